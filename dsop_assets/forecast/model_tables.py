"""What ``forecast_model`` and ``forecast_feature_importance`` must hold for the model versions a run fitted.

Both tables hold both cadences (a ``cadence`` column); rows are replaced per ``model_version`` (a hash
of the configuration and the origin trained at). Per cadence they are separate assets, partitioned
like the forecast that writes them, so each run checks the versions it wrote, read back as stored:

* ``forecast_model``: one row per booster fit (model_version, level, quantile, horizon), a non-empty
  model string, and every configured quantile fitted for each (version, level, horizon).
* ``forecast_feature_importance``: finite, non-negative gains, one row per booster and feature, for
  exactly the boosters ``forecast_model`` stores (no importance of a model that was not kept).
"""

from __future__ import annotations

import polars as pl

MODEL_TABLE, IMPORTANCE_TABLE = "forecast_model", "forecast_feature_importance"
BOOSTER = ["model_version", "level", "quantile", "horizon"]


def check_name(table: str, cadence: str) -> str:
    return f"{table}_{cadence}_consistent"


def stored_rows(warehouse, table: str, cadence: str, versions: list[str], columns: str) -> pl.DataFrame:
    """``columns`` of the rows of ``versions`` (model strings are large: never select them whole)."""
    if not versions or not warehouse.table_exists(table):
        return pl.DataFrame()
    rows = warehouse.query(f"select {columns} from {table} where cadence = $c", {"c": cadence})
    return rows.filter(pl.col("model_version").is_in(versions))


def model_problems(models: pl.DataFrame, quantiles: tuple[float, ...]) -> dict[str, int]:
    """``models``: model_version, level, quantile, horizon, chars (length of the model string)."""
    if models.is_empty():
        return {}
    expected = sorted(quantiles)
    fitted = models.group_by("model_version", "level", "horizon").agg(pl.col("quantile").sort())
    problems = {
        "duplicate booster": models.height - models.select(BOOSTER).n_unique(),
        "empty model string": models.filter(pl.col("chars").fill_null(0) == 0).height,
        f"(version, level, horizon) without exactly the quantiles {expected}": sum(
            q != expected for q in fitted["quantile"].to_list()),
    }
    return {rule: n for rule, n in problems.items() if n}


def importance_problems(importance: pl.DataFrame, models: pl.DataFrame) -> dict[str, int]:
    """``importance``: BOOSTER + feature, importance; ``models``: the stored boosters of the same versions."""
    if importance.is_empty() and models.is_empty():
        return {}
    gain = pl.col("importance")
    boosters = importance.select(BOOSTER).unique() if importance.height else pl.DataFrame(schema=models.select(BOOSTER).schema)
    stored = models.select(BOOSTER).unique() if models.height else boosters.clear()
    problems = {
        "gain negative, NaN or infinite": importance.filter(gain.is_null() | gain.is_nan() | gain.is_infinite()
                                                            | (gain < 0)).height if importance.height else 0,
        "duplicate booster and feature": importance.height - importance.select(*BOOSTER, "feature").n_unique()
        if importance.height else 0,
        "booster without importance": stored.join(boosters, on=BOOSTER, how="anti", nulls_equal=True).height,
        "importance of a booster not stored": boosters.join(stored, on=BOOSTER, how="anti", nulls_equal=True).height,
    }
    return {rule: n for rule, n in problems.items() if n}
