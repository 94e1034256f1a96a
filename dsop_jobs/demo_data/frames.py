"""Simulated arrays -> contract-shaped Polars frames (history window only, sorted, ids assigned)."""

from __future__ import annotations

import numpy as np
import polars as pl

from .cycle import cycle_at
from .timeline import Timeline, to_iso


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    return prefix + pl.Series(np.arange(1, n + 1)).cast(pl.Utf8).str.zfill(width)


def _dates(tl: Timeline, day: np.ndarray) -> pl.Series:
    epoch = (np.datetime64(tl.sim_start, "D") - np.datetime64("1970-01-01", "D")).astype(int)
    return pl.Series(np.asarray(day, dtype=np.int64) + epoch).cast(pl.Int32).cast(pl.Date)


def _pick(values, idx: np.ndarray) -> pl.Series:
    """values[idx] as a string column; gathering in Polars avoids slow numpy object arrays."""
    return pl.Series(np.asarray(values).astype(str)).gather(np.asarray(idx, dtype=np.int64))


def _money(value: np.ndarray, currency: np.ndarray) -> np.ndarray:
    return np.where(currency == "KRW", np.round(value), np.round(value, 2))


def orders_frame(tl: Timeline, items: dict, cust: dict, orders: dict, price: np.ndarray) -> tuple[pl.DataFrame, pl.Series]:
    """Order lines placed inside the history; ids run over every simulated order so shipments of
    orders placed before the export window keep their (unexported) order id."""
    ids = _ids("SO", len(orders["day"]), 8)
    m = (orders["day"] >= tl.start_day) & (orders["day"] <= tl.end_day)
    p = orders["product"][m]
    df = pl.DataFrame({
        "order_id": ids.filter(pl.Series(m)), "order_date": _dates(tl, orders["day"][m]),
        "customer_id": _pick(cust["customer_id"], orders["customer"][m]),
        "product_id": _pick(items["product_id"], p), "order_qty": orders["qty"][m], "unit_price": price[m],
        "currency": _pick(items["currency"], p), "requested_delivery_date": _dates(tl, orders["req_day"][m]),
    })
    return df, ids


def revenue_frame(tl: Timeline, items: dict, cust: dict, orders: dict, price: np.ndarray, ships: dict,
                  order_ids: pl.Series) -> pl.DataFrame:
    m = (ships["day"] >= tl.start_day) & (ships["day"] <= tl.end_day)
    o = ships["order"][m]
    p = orders["product"][o]
    cur = items["currency"][p]
    return pl.DataFrame({
        "invoice_id": _ids("IV", int(m.sum()), 8), "revenue_date": _dates(tl, ships["day"][m]),
        "customer_id": _pick(cust["customer_id"], orders["customer"][o]),
        "product_id": _pick(items["product_id"], p), "shipped_qty": ships["qty"][m],
        "revenue_amount": _money(ships["qty"][m] * price[o], cur), "currency": _pick(items["currency"], p),
        "order_id": order_ids.gather(o),
    })


def production_frame(tl: Timeline, items: dict, prod: np.ndarray, line_ids: list[str]) -> pl.DataFrame:
    sub = prod[:, tl.start_day : tl.end_day + 1]
    item, day = np.nonzero(sub)
    o = np.lexsort((item, day))
    item, day = item[o], day[o] + tl.start_day
    return pl.DataFrame({
        "production_date": _dates(tl, day), "product_id": _pick(items["product_id"], item),
        "produced_qty": np.round(prod[item, day], 4), "production_line": _pick(line_ids, items["line"][item]),
    })


def inventory_frame(tl: Timeline, items: dict, opening: np.ndarray, inflow: np.ndarray, outflow: np.ndarray) -> pl.DataFrame:
    """Stock at the start of each month's first day, before that day's movements."""
    net = np.cumsum(inflow[:, tl.start_day : tl.end_day + 1] - outflow[:, tl.start_day : tl.end_day + 1], 1)
    net = np.concatenate([np.zeros((net.shape[0], 1)), net], 1)
    months = np.arange(np.datetime64(tl.start, "M") + (tl.start.day != 1), np.datetime64(tl.end, "M") + 1)
    snap = (months.astype("datetime64[D]") - np.datetime64(tl.start, "D")).astype(int)
    stock = np.maximum(opening[:, None] + net[:, snap], 0)
    n = len(opening)
    return pl.DataFrame({
        "snapshot_date": np.tile(to_iso(months.astype("datetime64[D]")), n),
        "product_id": _pick(items["product_id"], np.repeat(np.arange(n), len(snap))), "on_hand_qty": np.round(stock.ravel(), 3),
    }).sort(["snapshot_date", "product_id"])


def po_frame(tl: Timeline, items: dict, sup: dict, raw_idx: np.ndarray, po: dict, cycle: np.ndarray,
             copper: pl.DataFrame, usd_daily: np.ndarray, rng) -> pl.DataFrame:
    """Purchase lines; material prices follow the cycle, copper and (for won prices) the dollar a bit."""
    keep = po["day"] <= tl.end_day
    o = np.lexsort((po["item"][keep], po["day"][keep]))
    g = {k: v[keep][o] for k, v in po.items()}
    item = raw_idx[g["item"].astype(int)]
    s = g["supplier"].astype(int)
    cur = sup["currency"][s]
    d = np.datetime64(tl.sim_start, "D") + g["day"].astype(int)
    month = d.astype("datetime64[M]").astype("datetime64[D]")
    cu = copper["copper"].to_numpy()[np.searchsorted(copper["month"].to_numpy(), month)]
    factor = np.exp(0.06 * cycle_at(cycle, tl, d) + items["copper"][item] * 0.5 * np.log(cu / 8700.0)
                    + rng.normal(0, 0.01, len(item)))
    factor *= np.where(cur == "KRW", (usd_daily[g["day"].astype(int)] / 1330.0) ** 0.2, 1.0)
    open_ = g["arrival"] > tl.end_day
    df = pl.DataFrame({
        "po_id": _ids("PO", len(item), 7), "supplier_id": _pick(sup["supplier_id"], s),
        "product_id": _pick(items["product_id"], item), "order_date": _dates(tl, g["day"].astype(int)),
        "order_qty": np.round(g["qty"], 4),
        "unit_cost": np.where(cur == "KRW", np.round(items["cost"][item] * factor), np.round(items["cost"][item] * factor, 2)),
        "currency": cur.astype(str), "promised_date": _dates(tl, g["promised"].astype(int)),
        "received_date": _dates(tl, g["arrival"].astype(int)), "received_qty": np.round(g["received"], 4),
        "_open": open_,
    })
    still_open = pl.col("_open")
    return df.with_columns(
        received_date=pl.when(still_open).then(None).otherwise(pl.col("received_date")),
        received_qty=pl.when(still_open).then(None).otherwise(pl.col("received_qty")),
    ).drop("_open")
