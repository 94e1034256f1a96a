"""Real monthly series through the product's own path: ERP export -> Dagster runs -> ``forecast_result``.

``python -m dsop_jobs.tools.real_e2e SERIES.csv WORKDIR [--series N] [--skip K] [--train-months LO:HI]
[--step 6] [--peers-cache P] [--compare D.parquet]`` writes the series (columns series_id, split, t, value,
as ``forecast_real`` reads them) as an ERP export under WORKDIR/erp: one finished good per series, one
order per series and month on the month's first day, the last training month aligned as in
``forecast_real``; the masters, suppliers and external indicators of a generated tiny export beside them
(the synthetic indicators cover its last ~3 years only), and no production, revenue, stock or purchase
rows. Then it runs, through Dagster in one instance (WORKDIR/dagster_home), what ``dsop demo`` runs for
the forecasts: the masters and external indicators, the weekly and monthly history (raw load, SQL layer,
feature stores) and the monthly forecast job over every origin from the last training month on (the
backfill adds its own warm-up origins). It scores the product rows of ``forecast_result_monthly`` with
the project's scorer beside AutoETS, AutoTheta and the simple rules on the same origins, as
``forecast_real`` does.

Why: the held-out check of issue #9 runs real series this way, not through ``forecast_real``'s direct
call of ``forecast_many``; the two paths differ (external indicators as features, the product master,
young-series fallbacks, the market check, the hierarchy's reconciliation). ``--compare`` takes a
``forecast_real --dsop-out`` file of the same series and prints where the served numbers differ.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dsop_jobs.tools import forecast_real as fr

# The export ends on a Sunday no later than this (Dagster's monthly partitions exist up to the current
# month only): months after it are left out, and so are scored origins without six months of actuals.
LAST_DAY = date(2026, 11, 29)
EMPTY = ("bom.csv", "purchase_order.csv", "inventory.csv", "daily_production.csv", "daily_revenue.csv")


def write_export(raw: pl.DataFrame, erp: Path) -> dict:
    """The series as an ERP export under ``erp``; returns its manifest."""
    from dsop_jobs.demo_data.generator import generate

    if erp.exists():
        shutil.rmtree(erp)
    generate(erp, scale="tiny", seed=7, end_date=LAST_DAY)
    orders = fr.orders_from_series(raw).filter(pl.col("order_date") <= LAST_DAY).sort("order_date", "product_id")
    customer = pl.read_csv(erp / "customer.csv", infer_schema=False)["customer_id"][0]
    products = orders.select("product_id").unique().sort("product_id")
    pl.DataFrame({
        "product_id": products["product_id"], "product_name": products["product_id"],
        "product_type": "finished_good", "product_group": "real", "unit": "EA", "unit_cost": 1.0, "unit_price": 1.0,
        "currency": "KRW",
    }).write_csv(erp / "product_master.csv")
    orders.select(
        order_id=pl.format("R{}", pl.int_range(1, pl.len() + 1)), order_date="order_date",
        customer_id=pl.lit(customer), product_id="product_id", order_qty="order_qty", unit_price=pl.lit(1.0),
        currency=pl.lit("KRW"), requested_delivery_date=pl.col("order_date") + timedelta(days=14),
    ).write_csv(erp / "daily_order.csv")
    for name in EMPTY:  # header only: their rows name the generated items, which this export does not have
        with open(erp / name, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        with open(erp / name, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(header)
    manifest = json.loads((erp / "manifest.json").read_text())
    first = orders["order_date"].min()
    start = first - timedelta(days=first.weekday())  # weekly partitions start on a Monday
    manifest |= {"start_date": start.isoformat(), "history_start": start.isoformat(), "end_date": LAST_DAY.isoformat(),
                 "external_source": "synthetic (tiny demo export)", "series_file": True}
    (erp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def run_pipeline(workdir: Path, manifest: dict, first_origin: date) -> None:
    """The masters, the weekly and monthly history and the monthly forecasts from ``first_origin``,
    in this process (its environment set first: the definitions read it when imported)."""
    os.environ |= {"DSOP_ERP_DIR": str(workdir / "erp"), "DSOP_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
                   "DSOP_HISTORY_START": manifest["history_start"], "DAGSTER_HOME": str(workdir / "dagster_home"),
                   "PYTHONWARNINGS": "ignore"}
    os.environ.pop("DSOP_GO_LIVE", None)
    home = workdir / "dagster_home"
    home.mkdir(exist_ok=True)
    shipped = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
    (home / "dagster.yaml").write_text(shipped.read_text())
    Path(os.environ["DSOP_DUCKDB_PATH"]).unlink(missing_ok=True)
    import dagster as dg

    from dsop_jobs.definitions import defs
    from dsop_jobs.pipeline import AGGREGATES, Stage, run_history
    from dsop_jobs.jobs import MASTER_JOB, MONTHLY_FORECAST_JOB, MONTHLY_JOB, WEEKLY_JOB

    start, end = date.fromisoformat(manifest["start_date"]), date.fromisoformat(manifest["end_date"])
    last = end.replace(day=1) - timedelta(days=1)  # the last complete month
    months = (last.year - first_origin.year) * 12 + last.month - first_origin.month + 1
    run_history(defs, dg.DagsterInstance.get(), start, end, [
        Stage("masters and external indicators", MASTER_JOB),
        Stage("weekly history", WEEKLY_JOB, AGGREGATES),
        Stage("monthly history", MONTHLY_JOB, AGGREGATES),
        Stage("monthly forecasts", MONTHLY_FORECAST_JOB, ("forecast",), months, True),
    ])


def served(workdir: Path) -> pl.DataFrame:
    import duckdb

    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select * from forecast_result_monthly where level = 'product'").pl()
    return rows.with_columns(pl.col("origin_date").cast(pl.Date), pl.col("target_start").cast(pl.Date),
                             pl.col("horizon").cast(pl.Int64), model_id=pl.lit("dsop"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("workdir")
    parser.add_argument("--step", type=int, default=6, help="months between scored origins")
    parser.add_argument("--series", type=int, default=0, help="first N series only (0 = all)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first K series (before --series)")
    parser.add_argument("--train-months", help="LO:HI, cut each series' training part to LO..HI months")
    parser.add_argument("--peers-cache", help="parquet file to reuse/store the peers' forecasts")
    parser.add_argument("--score-only", action="store_true", help="score the warehouse an earlier run left")
    parser.add_argument("--no-external", action="store_true", help="an export without external/ (no indicator files)")
    parser.add_argument("--compare", help="a `forecast_real --dsop-out` file of the same series: where they differ")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    raw = fr.selected_series(args.path, args.series, args.skip, args.train_months)
    orders = fr.orders_from_series(raw)
    last_month = LAST_DAY.replace(day=1) - timedelta(days=1)
    test_months = int(raw.filter(pl.col("split") == "test").group_by("series_id").len()["len"].min())
    test_months = min(test_months, (last_month.year - fr.LAST_TRAIN.year) * 12 + last_month.month - fr.LAST_TRAIN.month)
    h = 6
    scored = [fr._month(k) for k in range(0, test_months - h + 1, args.step)]
    began = time.perf_counter()
    if not args.score_only:
        manifest = write_export(raw, workdir / "erp")
        if args.no_external:
            shutil.rmtree(workdir / "erp" / "external")
        run_pipeline(workdir, manifest, fr.LAST_TRAIN)
    seconds = time.perf_counter() - began
    dsop = served(workdir)
    peers = fr.cached_peers(orders, scored, h, args.peers_cache)
    parts = [dsop, peers, fr.simple_rules(orders, scored, h), fr.member_points(dsop)]
    if args.compare:
        other = pl.read_parquet(args.compare).with_columns(model_id=pl.lit("dsop_direct"))
        parts.append(other)
        _differences(dsop, other, scored)
    scores, table = fr.score_all(parts, orders, scored, h, test_months)
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=4, tbl_width_chars=200):
        print(f"{raw['series_id'].n_unique()} series, scored origins {[str(d) for d in scored]}, export + Dagster runs "
              f"{seconds:.0f} s")
        print(table)
        print(scores.pivot(on="model_id", index="horizon", values="mase").sort("horizon"))
    return 0


def _differences(dsop: pl.DataFrame, other: pl.DataFrame, scored: list[date]) -> None:
    keys = ["product_id", "origin_date", "horizon"]
    both = dsop.filter(pl.col("origin_date").is_in(scored)).select(*keys, "p50").join(
        other.select(*keys, p50_direct="p50"), on=keys, how="full", coalesce=True)
    diff = both.with_columns(rel=(pl.col("p50") - pl.col("p50_direct")).abs() / pl.col("p50_direct").abs().clip(lower_bound=1e-9))
    print(f"rows: Dagster path {both['p50'].is_not_null().sum()}, direct {both['p50_direct'].is_not_null().sum()}, "
          f"P50 differing by more than 0.1 %: {(diff['rel'] > 1e-3).sum()}; median |difference| {diff['rel'].median()}",
          file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
