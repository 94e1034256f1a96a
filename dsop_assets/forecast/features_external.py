"""External indicators as they were known at each as_of date: point-in-time levels and growth rates.

An indicator row is one vintage (``known_at``) of one observation; revisions add vintages. At as_of A
a series is worth its latest observation among vintages with known_at <= A, valued at the latest
such vintage; growth compares it with the observation ~1/3/12 months earlier, valued the same way.
Publication delays therefore come from the data itself (known_at), not from assumed lags. A monthly
series whose latest known month is behind the as_of is first forecast forward over the gap
(``external_forward.py``: AutoETS on the values known then), so its level and growth describe the
as_of's period instead of a month or two before it.

Kept self-contained (one inequality join, then as-of joins) so the feature store does not depend
on the ingestion package.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from .config import DIFFERENCE_SERIES, EXTERNAL_SERIES, EXTERNAL_TRANSFORMS, GROWTH_DAYS
from .external_forward import forward_fill

# How far back each as_of looks: a year of growth plus the longest publication delay seen in
# practice (trade statistics, revised production indices), with room to spare.
_LOOKBACK_DAYS = 800
# Growth windows aim a few days short so a monthly series dated on the 1st finds the previous
# month's row instead of skipping one (1 Mar - 30 days lands on 31 Jan).
_SLACK_DAYS = 5


def external_feature_names(transforms: dict[str, tuple[str, ...]] = EXTERNAL_TRANSFORMS) -> list[str]:
    return [_column(name, t) for name, ts in transforms.items() for t in ts]


def _column(name: str, transform: str) -> str:
    return f"ext_{name}" if transform == "level" else f"ext_{name}_g{transform}"


def _vintages(indicators: pl.DataFrame | None, fx: pl.DataFrame | None, series: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    schema = {"name": pl.String, "observation_date": pl.Date, "value": pl.Float64, "known_at": pl.Date}
    parts = [pl.DataFrame(schema=schema)]
    lookup = pl.DataFrame(
        [(sid.upper(), name) for name, ids in series.items() for sid in ids],
        schema={"sid": pl.String, "name": pl.String},
        orient="row",
    ).unique("sid", keep="first")
    if indicators is not None and indicators.height:
        parts.append(
            indicators.select(
                sid=pl.col("series_id").cast(pl.String).str.to_uppercase(),
                observation_date=pl.col("observation_date").cast(pl.Date),
                value=pl.col("value").cast(pl.Float64),
                known_at=pl.col("known_at").cast(pl.Date),
            )
            .join(lookup, on="sid")
            .select(list(schema))
        )
    if fx is not None and fx.height:
        known = pl.col("known_at").cast(pl.Date) if "known_at" in fx.columns else pl.col("rate_date").cast(pl.Date)
        parts.append(
            fx.select(
                sid=pl.lit("FX_") + pl.col("currency").cast(pl.String).str.to_uppercase(),
                observation_date=pl.col("rate_date").cast(pl.Date),
                value=pl.col("krw_per_unit").cast(pl.Float64),
                known_at=known,
            )
            .join(lookup, on="sid")
            .select(list(schema))
        )
    return pl.concat(parts).drop_nulls()


def external_features(
    indicators: pl.DataFrame | None,
    fx: pl.DataFrame | None,
    as_of_dates: list[date],
    series: dict[str, tuple[str, ...]] = EXTERNAL_SERIES,
    transforms: dict[str, tuple[str, ...]] = EXTERNAL_TRANSFORMS,
    forward: bool = True,
) -> pl.DataFrame:
    """One row per as_of with one column per (series, transform); null where nothing was known.
    ``forward``: forecast monthly series over their publication gap first (``external_forward.py``)."""
    transforms = {k: v for k, v in transforms.items() if k in series}
    vintages = _vintages(indicators, fx, series)
    anchors = pl.DataFrame({"as_of": sorted(set(as_of_dates))}, schema={"as_of": pl.Date}).with_columns(
        lookback=pl.col("as_of") - timedelta(days=_LOOKBACK_DAYS)
    )
    # Every (as_of, observation) pair whose vintage was public by as_of; the inequality join keeps
    # this to the lookback window instead of a full cross product.
    known = anchors.join_where(
        vintages,
        pl.col("known_at") <= pl.col("as_of"),
        pl.col("observation_date") >= pl.col("lookback"),
    )
    pit = (
        known.sort("known_at")
        .group_by("as_of", "name", "observation_date")
        .agg(pl.col("value").last())
        .sort("as_of", "name", "observation_date")
    )
    if forward:
        pit = forward_fill(pit).drop("forecast_steps")
    latest = pit.group_by("as_of", "name").agg(
        pl.col("observation_date").last(), pl.col("value").last().alias("level")
    )
    for label, days in GROWTH_DAYS.items():
        back = latest.select(
            "as_of", "name", lookup=pl.col("observation_date") - timedelta(days=days - _SLACK_DAYS)
        ).sort("lookup")
        matched = back.join_asof(
            pit.rename({"observation_date": "lookup", "value": f"past_{label}"}).sort("lookup"),
            on="lookup",
            by=["as_of", "name"],
            strategy="backward",
            check_sortedness=False,
        ).drop("lookup")
        latest = latest.join(matched, on=["as_of", "name"], how="left")
        change = pl.col("level") - pl.col(f"past_{label}")
        ratio = pl.when(pl.col(f"past_{label}") > 0).then(pl.col("level") / pl.col(f"past_{label}") - 1)
        latest = latest.with_columns(
            pl.when(pl.col("name").is_in(list(DIFFERENCE_SERIES))).then(change).otherwise(ratio).alias(f"g{label}")
        )
    long = latest.unpivot(
        index=["as_of", "name"], on=["level", *[f"g{k}" for k in GROWTH_DAYS]], variable_name="transform"
    ).with_columns(
        column=pl.when(pl.col("transform") == "level")
        .then(pl.lit("ext_") + pl.col("name"))
        .otherwise(pl.lit("ext_") + pl.col("name") + pl.lit("_") + pl.col("transform"))
    )
    wanted = external_feature_names(transforms)
    long = long.filter(pl.col("column").is_in(wanted))
    out = anchors.select("as_of")
    if long.height:
        wide = long.pivot(on="column", index="as_of", values="value")
        out = out.join(wide, on="as_of", how="left")
    missing = [c for c in wanted if c not in out.columns]
    return out.with_columns(pl.lit(None, pl.Float64).alias(c) for c in missing).select(
        "as_of", *[pl.col(c).cast(pl.Float64) for c in wanted]
    )


def trade_as_indicators(trade: pl.DataFrame) -> pl.DataFrame:
    """trade_statistics (period_month, hs_code, flow, value_usd, known_at) as indicator vintages.

    Series ids read ``KR_EXPORTS_8542`` etc., the spelling ``EXTERNAL_SERIES`` expects, so the trade
    table joins the feature store through the same point-in-time path as every other series.
    """
    return trade.select(
        provider=pl.lit("trade"),
        series_id=pl.lit("KR_") + pl.col("flow").cast(pl.String).str.to_uppercase() + pl.lit("S_") + pl.col("hs_code").cast(pl.String),
        observation_date=pl.col("period_month").cast(pl.String).str.slice(0, 7).add(pl.lit("-01")).str.to_date(),
        value=pl.col("value_usd").cast(pl.Float64),
        known_at=pl.col("known_at").cast(pl.String).str.slice(0, 10).str.to_date(),
    )
