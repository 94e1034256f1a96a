"""A float sum whose result does not depend on thread scheduling.

Polars adds a group's floats in an order set by how the rows were split among threads, so two runs of
the same data can differ in the last bit; a decision fed from such a sum (the plan's opening stock) can
then tip between two near-equal answers. Sorting first fixes the order - but Polars' optimiser drops a
``sort()`` in front of ``sum()`` (the sum does not depend on order, mathematically), so the running sum's
last value is taken instead, which it keeps.
"""

from __future__ import annotations

import polars as pl


def ordered_sum(values: pl.Expr) -> pl.Expr:
    """The sum of ``values`` added in ascending order, one after the other (0 for no values, like ``sum``)."""
    return values.sort().cum_sum().last().fill_null(0.0)
