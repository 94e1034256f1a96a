"""Multi-level bill-of-materials explosion.

Items are processed by low-level code (the deepest level at which they occur anywhere), so every
requirement of a shared component is collected before it is netted or exploded further. Scrap is
applied on the way down: making one parent consumes qty_per / (1 - scrap_rate) of the component.
Components are needed in the week their parent is made; intermediates carry no in-house lead time.
"""

from __future__ import annotations

from collections import defaultdict

import polars as pl


class BomCycleError(ValueError):
    """The BOM contains a cycle, so it has no finite explosion."""


def low_level_codes(bom: pl.DataFrame) -> dict[str, int]:
    """Deepest level of every item in the BOM (top parents 0); raises on a cycle."""
    children: dict[str, list[str]] = defaultdict(list)
    indegree: dict[str, int] = defaultdict(int)
    for parent, child in bom.select("parent_product_id", "component_product_id").unique().iter_rows():
        if parent == child:
            raise BomCycleError(f"BOM cycle: {parent} is a component of itself")
        children[parent].append(child)
        indegree[child] += 1
        indegree.setdefault(parent, 0)
    level = {item: 0 for item, deg in indegree.items() if deg == 0}
    queue = sorted(level)
    seen = 0
    while queue:
        item = queue.pop()
        seen += 1
        for child in children.get(item, []):
            level[child] = max(level.get(child, 0), level[item] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    if seen < len(indegree):
        stuck = sorted(item for item, deg in indegree.items() if deg > 0)
        raise BomCycleError(f"BOM cycle among items {stuck[:10]}")
    return level


def _edges(bom: pl.DataFrame) -> pl.DataFrame:
    scrap = pl.col("scrap_rate").cast(pl.Float64).fill_null(0.0) if "scrap_rate" in bom.columns else pl.lit(0.0)
    edges = bom.select(
        pl.col("parent_product_id").alias("product_id"),
        "component_product_id",
        pl.col("qty_per").cast(pl.Float64),
        scrap.alias("scrap_rate"),
    )
    bad = edges.filter((pl.col("scrap_rate") < 0) | (pl.col("scrap_rate") >= 1))
    if bad.height:
        raise ValueError(f"scrap_rate must be in [0, 1): {bad.head(5).to_dicts()}")
    return edges.with_columns((pl.col("qty_per") / (1 - pl.col("scrap_rate"))).alias("qty_per_good"))


def explode_bom(
    requirements: pl.DataFrame, bom: pl.DataFrame, on_hand: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Gross requirement of every component, per week, summed over parents and levels.

    requirements: ``product_id, week_start, qty`` (units of top items to make that week).
    bom: ``parent_product_id, component_product_id, qty_per[, scrap_rate]``.
    on_hand: optional ``product_id, on_hand_qty``; when given, an intermediate (component with its
    own BOM) first uses its stock, earliest weeks first, and only the rest is exploded further.
    Returns ``product_id, week_start, gross_qty, level`` for components only (level >= 1).
    """
    codes = low_level_codes(bom)
    edges = _edges(bom)
    stock = dict(on_hand.select("product_id", "on_hand_qty").iter_rows()) if on_hand is not None else {}
    parents = set(edges["product_id"].to_list())
    pool = requirements.select("product_id", "week_start", pl.col("qty").cast(pl.Float64))
    out = []
    for level in range(max(codes.values(), default=0) + 1):
        items = [item for item, code in codes.items() if code == level]
        current = pool.filter(pl.col("product_id").is_in(items))
        current = current.group_by("product_id", "week_start").agg(pl.col("qty").sum()).sort("product_id", "week_start")
        if level > 0:
            out.append(current.rename({"qty": "gross_qty"}).with_columns(pl.lit(level).alias("level")))
            current = _net_against_stock(current, stock, parents)
        pool = pl.concat([
            pool.filter(~pl.col("product_id").is_in(items)),
            current.join(edges, on="product_id").select(
                pl.col("component_product_id").alias("product_id"),
                "week_start",
                (pl.col("qty") * pl.col("qty_per_good")).alias("qty"),
            ),
        ])
    schema = {"product_id": pl.Utf8, "week_start": pl.Date, "gross_qty": pl.Float64, "level": pl.Int32}
    if not out:
        return pl.DataFrame(schema=schema)
    result = pl.concat(out).with_columns(pl.col("level").cast(pl.Int32))
    return result.filter(pl.col("gross_qty") > 0).sort("level", "product_id", "week_start")


def _net_against_stock(current: pl.DataFrame, stock: dict, parents: set) -> pl.DataFrame:
    """Intermediates consume their own stock before their components are needed."""
    if not stock:
        return current
    cum = pl.col("qty").cum_sum().over("product_id")
    available = pl.col("product_id").replace_strict(stock, default=0.0, return_dtype=pl.Float64)
    available = pl.when(pl.col("product_id").is_in(list(parents))).then(available).otherwise(0.0)
    uncovered = (cum - available).clip(lower_bound=0.0)
    before = (cum - pl.col("qty") - available).clip(lower_bound=0.0)
    return current.with_columns((uncovered - before).alias("qty"))
