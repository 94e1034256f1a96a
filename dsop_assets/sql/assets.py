"""Dagster assets for the SQL models: thin wiring over ``models.py`` and the warehouse."""

from pathlib import Path

import dagster as dg

from dsop_assets.lineage import window
from dsop_assets.partitions import PARTITIONS_BY_GRAIN, window_dates
from dsop_assets.sql.models import ModelError, SqlModel, discover_models
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window, quote_identifier
from dsop_resources.settings import sql_dir


def _deps(model: SqlModel, models: dict[str, SqlModel]) -> list:
    """refs and sources; a partitioned ref read before the window gets that look-back as its mapping."""
    lookback = model.lookback_periods

    def ref(name: str):
        upstream = models.get(name)
        return window(name, lookback) if lookback and upstream is not None and upstream.partitioned_by else name

    return [*(ref(name) for name in model.refs), *model.sources]


def build_model_asset(model: SqlModel, models: dict[str, SqlModel] | None = None) -> dg.AssetsDefinition:
    """One model's asset; ``models`` (all of them) tells which refs are partitioned, for look-backs."""
    partitions_def = PARTITIONS_BY_GRAIN[model.partitioned_by]

    @dg.asset(
        name=model.name,
        group_name=model.group,
        description=model.description,
        deps=_deps(model, models or {}),
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


def load_sql_assets(folder: Path | None = None) -> list[dg.AssetsDefinition]:
    """Every model under ``folder`` (default: the installed ``dbt_like_sql``); none found is an error,
    not a silently smaller asset graph."""
    folder = folder or sql_dir()
    if not folder.is_dir():
        raise ModelError(f"SQL models folder {folder} does not exist: set DSOP_SQL_DIR or reinstall dsop "
                         "(the wheel ships dbt_like_sql/)")
    models = discover_models(folder)
    if not models:
        raise ModelError(f"no .sql models under {folder}: set DSOP_SQL_DIR or reinstall dsop")
    by_name = {m.name: m for m in models}
    return [build_model_asset(m, by_name) for m in models]
