"""What "good data" means per table, as data: the Great Expectations suites are built from these.

Raw-table rules come from the ERP contract, so a contract change changes its checks. Output rules
guard what planners act on: keys, P10 ≤ P50 ≤ P90, grades, plan balance, non-negative orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsop_resources.erp.contract import ALL_TABLES, TableContract


@dataclass(frozen=True)
class Rule:
    kind: str  # not_null | unique | between | in_set | pair_ge | in_partition
    columns: tuple[str, ...]
    min_value: float | None = None
    max_value: float | None = None
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        cols = ", ".join(self.columns)
        if self.kind == "between":
            return f"{cols} in [{self.min_value}, {self.max_value}]"
        if self.kind == "in_set":
            return f"{cols} in {{{', '.join(self.values)}}}"
        if self.kind == "pair_ge":
            return f"{self.columns[0]} >= {self.columns[1]}"
        return f"{cols} {self.kind.replace('_', ' ')}"


MAX_QTY = 1e9  # no plant orders a billion units of anything; larger is a unit or decimal error


def contract_rules(table: TableContract) -> list[Rule]:
    rules = [Rule("not_null", (c,)) for c in table.required_columns]
    rules.append(Rule("unique", table.key))
    # Quantities get an upper bound too; money amounts in KRW legitimately run into billions.
    rules += [Rule("between", (c.name,), 0, MAX_QTY if c.name.endswith("_qty") else None)
              for c in table.columns if c.nonnegative]
    rules += [Rule("in_set", (c.name,), values=c.allowed) for c in table.columns if c.allowed]
    if table.partition_column:
        rules.append(Rule("in_partition", (table.partition_column,)))
    return rules


OUTPUT_RULES: dict[str, list[Rule]] = {
    "weekly_product_summary": [Rule("unique", ("week_start", "product_id")), Rule("in_partition", ("week_start",)),
                               Rule("between", ("order_qty",), 0, MAX_QTY)],
    "monthly_product_summary": [Rule("unique", ("month_start", "product_id")), Rule("in_partition", ("month_start",))],
    "forecast_result": [
        Rule("not_null", ("model_id",)), Rule("not_null", ("product_id",)),
        Rule("unique", ("model_id", "cadence", "level", "product_id", "customer_id", "origin_date", "target_start")),
        Rule("between", ("p10",), 0, None), Rule("pair_ge", ("p50", "p10")), Rule("pair_ge", ("p90", "p50")),
        Rule("in_partition", ("origin_date",)),
    ],
    "risk_score": [Rule("unique", ("week_start", "product_id")), Rule("in_set", ("grade",), values=tuple("ABCDF")),
                   Rule("between", ("total_score",), 0, 100), Rule("in_partition", ("week_start",))],
    "action_queue": [Rule("unique", ("action_id",)), Rule("in_set", ("priority",), values=("Critical", "High", "Medium")),
                     Rule("between", ("suggested_qty",), 0, None)],
    "production_plan": [Rule("unique", ("plan_week", "product_id", "week_start")), Rule("between", ("production_qty",), 0, None),
                        Rule("between", ("balance_residual",), -1e-6, 1e-6)],
    "purchase_recommendation": [Rule("between", ("recommended_qty",), 0, None), Rule("not_null", ("supplier_id",))],
    # Hours within capacity and "a refusal has its reason" are checked in the plan run itself
    # (planning/table_checks.py); these are the per-partition structure.
    "production_plan_line": [Rule("unique", ("plan_week", "line_id", "week_start")), Rule("not_null", ("line_id",)),
                             Rule("between", ("overtime_hours",), 0, None), Rule("in_partition", ("plan_week",))],
    "production_plan_diagnosis": [Rule("not_null", ("message",)), Rule("not_null", ("basis",)),
                                  Rule("in_partition", ("plan_week",))],
}

# The forecast assets write one table per cadence; forecast_result is the view over both.
OUTPUT_RULES |= {f"forecast_result_{cadence}": OUTPUT_RULES["forecast_result"] for cadence in ("weekly", "monthly")}
RULES: dict[str, list[Rule]] = {t.name: contract_rules(t) for t in ALL_TABLES} | OUTPUT_RULES

# Integrity checks block the downstream chain for the partition when they fail.
BLOCKING = {t.name for t in ALL_TABLES} | {"forecast_result", "forecast_result_weekly", "forecast_result_monthly",
                                           "production_plan"}


def check_name(table: str) -> str:
    return f"{table}_quality"
