"""Entry point of ``dsop generate``: one deterministic demo data set per (scale, seed, end_date).

Every stage draws from its own PCG64 stream keyed by (seed, stage), so changing one stage never
shifts another's numbers, and rows are sorted before writing so the bytes repeat run after run.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from dsop_resources.erp.contract import CONTRACTS

from .catalog import build_parties
from .cycle import cycle_at, fx_daily, latent_cycle
from .demand import build_pairs, draw_orders, order_prices, pair_end_weeks, weekly_intensity
from .external import build_external
from .frames import inventory_frame, orders_frame, po_frame, production_frame, revenue_frame
from .fulfil import draw_shipments
from .anomalies import plant_anomalies
from .items import build_items
from .masters import master_frames
from .supply import consume, lot_sizes, opening_floor, plan_production, purchase, spread_daily, weekly
from .timeline import SCALES, build_timeline, default_end_date
from .truth import build_truth
from .violations import inject
from .writer import write_plain, write_table

GENERATOR_VERSION = "1.0.0"


class _Clock:
    def __init__(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        print(f"[generate] {stage} ... {now - self.t:.1f}s", file=sys.stderr, flush=True)
        self.t = now


def generate(out_dir: Path, scale: str = "seed", seed: int = 7, end_date: date | None = None, language: str = "en",
             encoding: str = "utf-8", inject_errors: bool = False, network: str | None = None) -> dict:
    """Writes the ERP export, ``external/`` and ``ground_truth/`` under ``out_dir``; returns the manifest.

    ``end_date`` defaults to the last Sunday before today; any other day is moved back to its
    previous Sunday so the last ISO week is complete. The same (scale, seed, end_date) gives the
    same bytes, whatever the language or encoding of the ERP files. ``network`` (a size of
    ``NETWORK_SIZES``) adds supply-network inputs (``network/``) ending with the history; the network
    scale always has them.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = SCALES[scale]
    tl = build_timeline(scale, end_date or default_end_date())
    rng = lambda stage: np.random.Generator(np.random.PCG64([seed, stage]))  # noqa: E731
    tick = _Clock()

    cycle = latent_cycle(rng(1), tl)
    fx_days = np.arange(np.datetime64(tl.ext_start, "D"), np.datetime64(tl.sim_start, "D") + tl.n_days)
    fx = fx_daily(rng(2), tl, cycle, fx_days)
    usd = fx["USD"][-tl.n_days :]
    ext = build_external(rng(3), tl, cycle, fx_days, fx)
    tick("external indicators")

    parties = build_parties(rng(4), cfg["n_cust"], cfg["n_sup"])
    cust, sup = parties["customers"], parties["suppliers"]
    hist = (tl.warmup_weeks, tl.warmup_weeks + tl.history_weeks)
    items = build_items(rng(5), cfg["n_fg"], cfg["n_mat"], cfg["n_lines"], sup, hist)
    pairs = build_pairs(rng(6), items, cust, cfg["pairs_per_fg"])
    lam_w, mu_w = weekly_intensity(rng(7), tl, items, cust, pairs, cycle, usd)
    orders = draw_orders(rng(8), tl, items, pairs, lam_w, mu_w)
    n_items = len(items["product_id"])
    drift = rng(9).normal(-0.01, 0.03, n_items)
    price = order_prices(rng(10), tl, items, cust, orders, cycle, drift)
    tick(f"orders ({len(orders['day']):,} simulated lines)")

    ships = draw_shipments(rng(11), tl, items, orders)
    n_fg, n_sub, nd = items["n_fg"], items["n_sub"], tl.n_days
    fg, sub = np.arange(n_fg), np.arange(n_fg, n_fg + n_sub)
    raw = np.arange(n_fg + n_sub, n_items)
    outflow = np.zeros((n_items, nd))
    inside = ships["day"] < nd
    np.add.at(outflow, (orders["product"][ships["order"][inside]], ships["day"][inside]), ships["qty"][inside])
    prod = np.zeros((n_items, nd))
    lot = np.zeros(n_items)
    lot[fg] = lot_sizes(rng(12), weekly(outflow[fg]), items["pack"][fg], 1.0, 2.5)
    plan_fg, open_fg = plan_production(weekly(outflow[fg]), lot[fg])
    prod[fg] = spread_daily(rng(13), plan_fg, lot[fg], nd)
    sub_need = weekly(consume(items["bom"], fg, prod, n_items)[sub])
    lot[sub] = lot_sizes(rng(14), sub_need, np.ones(n_sub), 1.0, 3.0)
    plan_sub, open_sub = plan_production(sub_need, lot[sub])
    prod[sub] = spread_daily(rng(15), plan_sub, lot[sub], nd)
    cons = consume(items["bom"], np.arange(n_fg + n_sub), prod, n_items)
    outflow[n_fg:] = cons[n_fg:]
    tick("shipments, production, BOM consumption")

    po, receipts, moq, open_raw = purchase(rng(16), tl, raw, items, sup, cons[raw])
    lot[raw] = moq
    inflow = prod.copy()
    inflow[raw] = receipts
    s0 = tl.start_day
    opening = np.zeros(n_items)
    opening[: n_fg + n_sub] = np.concatenate([open_fg, open_sub]) + (inflow - outflow)[: n_fg + n_sub, :s0].sum(1)
    opening[raw] = open_raw
    hist_days = slice(s0, tl.end_day + 1)
    opening = opening_floor(opening, inflow[:, hist_days], outflow[:, hist_days])
    tick(f"purchasing ({len(po['day']):,} PO lines) and stock")

    line_ids = [f"L{i + 1:02d}" for i in range(cfg["n_lines"])]
    orders_df, order_ids = orders_frame(tl, items, cust, orders, price)
    cycle_end = float(cycle_at(cycle, tl, np.array([np.datetime64(tl.end, "D")]))[0])
    erp = master_frames(rng(17), tl, items, cust, sup, language, lot, prod, line_ids, drift, cycle_end)
    erp.update({
        "daily_order": orders_df,
        "daily_revenue": revenue_frame(tl, items, cust, orders, price, ships, order_ids),
        "daily_production": production_frame(tl, items, prod, line_ids),
        "inventory": inventory_frame(tl, items, opening, inflow, outflow),
        "purchase_order": po_frame(tl, items, sup, raw, po, cycle, ext["_copper"], usd, rng(18)),
    })
    # Labelled anomalies for detection to be scored against; a stream of their own, so nothing else moves.
    ends = pair_end_weeks(tl, pairs) - tl.warmup_weeks  # customers leaving a product: drops the truth lists too
    left = [(cust["customer_id"][c], items["product_id"][p], float(e))
            for c, p, e in zip(pairs["customer"], pairs["product"], ends) if 0 <= e < tl.history_weeks]
    erp["daily_order"], erp["inventory"], planted = plant_anomalies(
        rng(20), tl.start, tl.end, erp["daily_order"], erp["inventory"], left)
    tick("frames")
    weekly_truth, monthly_truth = build_truth(rng(19), tl, items, pairs, lam_w, mu_w)
    tick("ground truth")

    files: dict[str, int] = {}
    for table, df in erp.items():
        name, rows = write_table(out_dir, table, df, language, encoding)
        files[name] = rows
    for name in ("economic_indicator", "exchange_rate", "trade_statistics", "market_prices"):
        files[f"external/{name}.csv"] = write_plain(out_dir / "external" / f"{name}.csv", ext[name])
    for name, frame in (("weekly_product_truth", weekly_truth), ("monthly_product_truth", monthly_truth),
                        ("planted_anomalies", planted)):
        files[f"ground_truth/{name}.csv"] = write_plain(out_dir / "ground_truth" / f"{name}.csv", frame)
    network_first = None
    if cfg.get("network") or network:
        from .network import NETWORK_SIZES, network_start, write_network

        size = cfg.get("network") or network
        network_first = network_start(tl.end, NETWORK_SIZES[size]["days"])
        files.update(write_network(out_dir, rng(1400), network_first, size))
    injected = inject(out_dir, erp, language, encoding, tl.end.isoformat()) if inject_errors else []
    for e in injected:
        files[e["file"]] += 1
    tick("write")

    manifest = {
        "generator_version": GENERATOR_VERSION, "scale": scale, "seed": seed,
        "start_date": str(erp["daily_order"]["order_date"].min()), "end_date": tl.end.isoformat(),
        # The earliest dated row of any table: DSOP_HISTORY_START for this data (dsop demo sets it).
        "history_start": str(min(str(df[CONTRACTS[t].partition_column].min()) for t, df in erp.items()
                                 if CONTRACTS[t].partition_column)),
        "language": language, "encoding": encoding, "external_source": "synthetic",
        # The supply-network inputs' first day, when written: DSOP_NETWORK_START's month (dsop demo sets it).
        **({"network_start": network_first.isoformat()} if network_first else {}),
        "files": dict(sorted(files.items())), "injected_errors": injected,
        "notes": ["monthly truth counts only order dates inside [start_date, end_date]",
                  "daily_revenue.order_id may name orders placed before start_date (not exported)",
                  "sub-assemblies (SA*) are materials made in-house: they appear in daily_production"],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest



