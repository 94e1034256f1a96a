"""Dagster assets for the external tables; the domain logic is in ``transform``.

Not partitioned: vintages revise observations months back, so no date partition owns a fixed set of
rows. Each run reads what is stored, asks every source only for the trailing revision window, and
upserts by key. A source that fails keeps its stored rows and is reported; the run fails only when
every source failed and nothing was stored before.
"""

from datetime import date, datetime, timedelta

import dagster as dg
import polars as pl

from dsop_assets.quality.freshness import EXTERNAL
from dsop_assets.external import transform as tf
from dsop_resources.external import AnalystCsvSource, CustomsSource, EcosSource, EiaSource, FredSource
from dsop_resources.external.catalog import (
    FX_ITEMS,
    HS_CODES,
    TRADE_PUBLICATION_LAG_DAYS,
    catalog_frame,
    series_for,
)
from dsop_resources.external.http import SourceNotConfigured, redact
from dsop_resources.warehouse import WAREHOUSE_POOL, Warehouse

GROUP = "external"


class ExternalRefreshConfig(dg.Config):
    history_start: str = "2018-01-01"
    revision_days_daily: int = 14
    revision_days_weekly: int = 35
    revision_days_monthly: int = 90
    run_date: str | None = None  # "today" for dating values; default the real date (tests pin it)

    def today(self) -> date:
        return date.fromisoformat(self.run_date) if self.run_date else date.today()

    def start(self) -> date:
        return date.fromisoformat(self.history_start)

    def window(self, frequency: str) -> int:
        return {"D": self.revision_days_daily, "W": self.revision_days_weekly}.get(
            frequency, self.revision_days_monthly
        )


def _failure_message(error: Exception, source) -> str:
    return redact(f"{type(error).__name__}: {error}", [getattr(source, "api_key", None)])


def _stale_since(rows: pl.DataFrame, column: str) -> str:
    if rows.is_empty() or column not in rows.columns or rows[column].drop_nulls().is_empty():
        return "never loaded"
    return str(rows[column].max())


_FETCHED_INDICATOR = {
    c: t for c, t in tf.INDICATOR_SCHEMA.items() if c not in ("is_first_release", "loaded_at")
}


def _refresh_provider(source, provider, kept, config, today, now, rejected) -> tuple[pl.DataFrame, dict]:
    """Fetch one provider's new window and merge it into its stored vintages."""
    specs = series_for(provider)
    if isinstance(source, AnalystCsvSource):
        # The analyst file is read whole anyway; unchanged rows are dropped by the merge.
        load = source.load([s.series_id for s in specs], None)
        rejected += load.rejected
        frames, starts = [load.frame], {}
    else:
        windows = {(s.series_id,): config.window(s.frequency) for s in specs}
        stored = tf.fetch_since(kept, ["series_id"], "observation_date", windows, config.start())
        starts = {s.series_id: stored.get((s.series_id,), config.start()) for s in specs}
        frames = [source.fetch([series_id], start) for series_id, start in starts.items()]
    lags = catalog_frame().select("provider", "series_id", "publication_lag_days")
    incoming = (
        pl.concat([tf.conform(f, _FETCHED_INDICATOR) for f in frames])
        .filter(pl.col("observation_date") >= config.start())
        .join(lags, on=["provider", "series_id"], how="left")
        .with_columns(pl.col("publication_lag_days").fill_null(0))
    )
    incoming = tf.date_by_lag(
        incoming, "observation_date", pl.col("publication_lag_days"), pl.col("frequency"), today
    ).drop("publication_lag_days")
    rows = tf.merge_vintages(
        kept, incoming, ["provider", "series_id"], "observation_date", "value", today, now
    )
    return tf.conform(rows, tf.INDICATOR_SCHEMA), {k: v.isoformat() for k, v in starts.items()}


@dg.asset(group_name=GROUP, kinds={"python"}, pool=WAREHOUSE_POOL, freshness_policy=EXTERNAL)
def economic_indicator(
    context: dg.AssetExecutionContext,
    config: ExternalRefreshConfig,
    warehouse: Warehouse,
    fred: FredSource,
    eia: EiaSource,
    ecos: EcosSource,
    market_csv: AnalystCsvSource,
) -> dg.MaterializeResult:
    """Macro and market indicators in long form, one row per observation and vintage (known_at)."""
    today, now = config.today(), datetime.now().replace(microsecond=0)
    existing = warehouse.read_table("economic_indicator")
    sources = {"fred": fred, "eia": eia, "ecos": ecos, "market": market_csv}
    merged, modes, failures, stale, since_used, changed, rejected = [], {}, {}, {}, {}, {}, []
    not_configured: dict[str, str] = {}
    for provider, source in sources.items():
        mode = modes[provider] = source.mode()
        prior = existing.filter(pl.col("provider") == provider) if not existing.is_empty() else existing
        # Switching between synthetic and real data starts the provider's history afresh.
        same_family = tf.source_family(pl.col("source")) == tf.mode_family(mode)
        kept = prior.filter(same_family) if not prior.is_empty() else prior
        try:
            rows, since_used[provider] = _refresh_provider(
                source, provider, kept, config, today, now, rejected
            )
        except SourceNotConfigured as error:
            not_configured[provider] = _failure_message(error, source)
            continue
        except Exception as error:  # noqa: BLE001 - one source must never block the others
            failures[provider] = _failure_message(error, source)
            stale[provider] = _stale_since(prior, "loaded_at")
            context.log.warning(
                f"economic_indicator: {provider} failed, keeping its stored rows: {failures[provider]}"
            )
            continue
        changed[provider] = rows.filter(pl.col("loaded_at") == now).height
        merged.append(rows)
    if rejected:
        context.log.warning(
            f"economic_indicator: {len(rejected)} analyst CSV row(s) rejected, e.g. "
            + "; ".join(f"{r['file']} line {r['line']}: {r['reason']}" for r in rejected[:5])
        )
    ok = [p for p in sources if p not in failures and p not in not_configured]
    if not ok and existing.is_empty():
        if failures:
            raise dg.Failure(
                "economic_indicator: every source failed or is not set up, and nothing is stored yet: "
                + "; ".join(f"{p}: {m}" for p, m in {**failures, **not_configured}.items())
            )
        # Nothing set up at all: dsop runs on the ERP export alone (the indicators' feature columns stay
        # empty, the market line does nothing), and says so; an empty table keeps analysts' SQL working.
        context.log.warning(NOT_CONFIGURED_WARNING.format(table="economic_indicator"))
        warehouse.write("economic_indicator", pl.DataFrame(schema=tf.INDICATOR_SCHEMA))
    if ok:
        warehouse.write("economic_indicator", pl.concat(merged), keys={"provider": ok})
    return dg.MaterializeResult(
        metadata={
            "sources": dg.MetadataValue.json(modes),
            "failed_sources": dg.MetadataValue.json(sorted(failures)),
            "not_configured_sources": dg.MetadataValue.json(sorted(not_configured)),
            "errors": dg.MetadataValue.json(failures),
            "stale_since": dg.MetadataValue.json(stale),
            "fetched_since": dg.MetadataValue.json(since_used),
            "new_or_revised_rows": dg.MetadataValue.json(changed),
            "rejected_rows": len(rejected),
            "rejected_preview": dg.MetadataValue.json(rejected[:20]),
            "dagster/row_count": warehouse.row_count("economic_indicator"),
        }
    )


@dg.asset(group_name=GROUP, kinds={"python"}, pool=WAREHOUSE_POOL, freshness_policy=EXTERNAL)
def exchange_rate(
    context: dg.AssetExecutionContext,
    config: ExternalRefreshConfig,
    warehouse: Warehouse,
    ecos: EcosSource,
) -> dg.MaterializeResult:
    """KRW per one unit of USD/JPY/EUR/CNY for every calendar day (non-trading days forward-filled)."""
    today, mode = config.today(), ecos.mode()
    existing = warehouse.read_table("exchange_rate")
    if not existing.is_empty():
        existing = existing.filter(tf.source_family(pl.col("source")) == tf.mode_family(mode))
    quoted = existing.filter(~pl.col("is_filled")) if not existing.is_empty() else existing
    since = (
        max(config.start(), quoted["rate_date"].max() - timedelta(days=config.revision_days_daily))
        if not quoted.is_empty()
        else config.start()
    )
    try:
        fetched = ecos.fetch_exchange_rates(list(FX_ITEMS), since)
    except Exception as error:  # noqa: BLE001
        return _keep_stale(context, "exchange_rate", ecos, "ecos", error, existing, "rate_date", warehouse,
                           tf.EXCHANGE_RATE_SCHEMA)
    rows = tf.merge_exchange_rates(existing, fetched, since, today if mode == "api" else None)
    warehouse.write("exchange_rate", rows)
    return dg.MaterializeResult(
        metadata={
            "sources": dg.MetadataValue.json({"ecos": mode}),
            "failed_sources": dg.MetadataValue.json([]),
            "fetched_since": since.isoformat(),
            "quotes_fetched": fetched.height,
            "dagster/row_count": rows.height,
            "last_quote": str(rows.filter(~pl.col("is_filled"))["rate_date"].max())
            if rows.height
            else "none",
        }
    )


@dg.asset(group_name=GROUP, kinds={"python"}, pool=WAREHOUSE_POOL, freshness_policy=EXTERNAL)
def trade_statistics(
    context: dg.AssetExecutionContext,
    config: ExternalRefreshConfig,
    warehouse: Warehouse,
    customs: CustomsSource,
) -> dg.MaterializeResult:
    """Korea's monthly exports/imports of HS 8541/8542 in USD, one row per month, code, flow and vintage."""
    today, now, mode = config.today(), datetime.now().replace(microsecond=0), customs.mode()
    existing = warehouse.read_table("trade_statistics")
    kept = (
        existing.filter(tf.source_family(pl.col("source")) == tf.mode_family(mode))
        if not existing.is_empty()
        else existing
    )
    since = (
        max(
            config.start(), kept["period_month"].max() - timedelta(days=config.revision_days_monthly)
        ).replace(day=1)
        if not kept.is_empty()
        else config.start()
    )
    try:
        fetched = customs.fetch(list(HS_CODES), since)
    except Exception as error:  # noqa: BLE001
        return _keep_stale(context, "trade_statistics", customs, "customs", error, existing, "known_at", warehouse,
                           tf.TRADE_SCHEMA)
    incoming = tf.date_by_lag(fetched, "period_month", pl.lit(TRADE_PUBLICATION_LAG_DAYS), "M", today)
    rows = tf.conform(
        tf.merge_vintages(kept, incoming, ["hs_code", "flow"], "period_month", "value_usd", today),
        tf.TRADE_SCHEMA,
    )
    warehouse.write("trade_statistics", rows)
    return dg.MaterializeResult(
        metadata={
            "sources": dg.MetadataValue.json({"customs": mode}),
            "failed_sources": dg.MetadataValue.json([]),
            "fetched_since": since.isoformat(),
            "rows_fetched": fetched.height,
            "dagster/row_count": rows.height,
            "loaded_at": now.isoformat(),
        }
    )


NOT_CONFIGURED_WARNING = (
    "{table}: no source is set up (no API key, no file in the external folder); it stays empty and dsop runs "
    "on the ERP export alone. Set the keys (docs/external_indicators.md) or put the files there to use it."
)


def _keep_stale(context, table, source, provider, error, existing, stale_column, warehouse,
                schema) -> dg.MaterializeResult:
    """After ``source`` raised ``error``: keep ``table``'s stored rows; with none, an empty table when
    nothing is set up for it, else the run fails."""
    message, mode = _failure_message(error, source), source.mode()
    if existing.is_empty() and isinstance(error, SourceNotConfigured):
        context.log.warning(NOT_CONFIGURED_WARNING.format(table=table))
        warehouse.write(table, pl.DataFrame(schema=schema))
        return dg.MaterializeResult(metadata={
            "sources": dg.MetadataValue.json({provider: "not configured"}),
            "failed_sources": dg.MetadataValue.json([]),
            "not_configured_sources": dg.MetadataValue.json([provider]),
            "errors": dg.MetadataValue.json({provider: message}),
            "dagster/row_count": 0,
        })
    if existing.is_empty():
        raise dg.Failure(f"{table}: {provider} failed and nothing is stored yet: {message}")
    context.log.warning(f"{table}: {provider} failed, keeping the stored rows: {message}")
    return dg.MaterializeResult(
        metadata={
            "sources": dg.MetadataValue.json({provider: mode}),
            "failed_sources": dg.MetadataValue.json([provider]),
            "errors": dg.MetadataValue.json({provider: message}),
            "stale_since": dg.MetadataValue.json({provider: _stale_since(existing, stale_column)}),
            "dagster/row_count": existing.height,
        }
    )


external_assets = [exchange_rate, economic_indicator, trade_statistics]
