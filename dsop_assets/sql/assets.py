"""Dagster assets for the SQL models: thin wiring over ``models.py`` and the warehouse."""


import dagster as dg

from dsop_assets.erp.assets import WAREHOUSE_POOL
from dsop_assets.partitions import monthly_partitions, weekly_partitions, window_dates
from dsop_assets.sql.models import SqlModel, discover_models
from dsop_resources import Warehouse, Window, quote_identifier
from dsop_resources.settings import sql_dir

_PARTITIONS = {"week": weekly_partitions, "month": monthly_partitions, None: None}


def build_model_asset(model: SqlModel) -> dg.AssetsDefinition:
    partitions_def = _PARTITIONS[model.partitioned_by]

    @dg.asset(
        name=model.name,
        group_name=model.group,
        description=model.description,
        deps=[*model.refs, *model.sources],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        metadata={
            "sql_path": str(model.path.relative_to(model.path.parents[1])),
            "materialized": model.materialized,
            **({"partition_expr": model.partition_column} if partitions_def else {}),
        },
        code_version=model.code_version,
        kinds={"sql"},
        pool=WAREHOUSE_POOL,
    )
    def _model(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        if model.materialized == "view":
            warehouse.execute(f"create or replace view {quote_identifier(model.name)} as {model.render()}")
            return dg.MaterializeResult(metadata={"materialized": "view"})
        if partitions_def is None:
            rows = warehouse.write_select(model.name, model.render())
        else:
            start, end = window_dates(context)
            rows = warehouse.write_select(
                model.name, model.render(start, end), Window(model.partition_column, start, end)
            )
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _model


def load_sql_assets() -> list[dg.AssetsDefinition]:
    return [build_model_asset(m) for m in discover_models(sql_dir())]
