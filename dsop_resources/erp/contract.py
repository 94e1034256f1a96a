"""The ERP data contract: ten source tables, their columns, types, keys and references.

This module is the single source of truth; ``docs/erp_contract.md`` is generated from it
(``python -m dsop_resources.erp.contract > docs/erp_contract.md``) and a test keeps the two in step.
File names and header aliases (English and Korean) live in ``column_mapping.yaml`` so users can
edit them without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["str", "date", "float", "int"]
Grain = Literal["week", "month"]


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    required: bool
    description: str
    unit: str = ""
    references: str | None = None  # "table.column" that must know this value
    nonnegative: bool = False
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableContract:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_grain: Grain | None = None
    partition_column: str | None = None
    optional_table: bool = False
    defaults: dict[str, object] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, dtype, required, description, unit="", references=None, nonnegative=False, allowed=()):
    return Column(name, dtype, required, description, unit, references, nonnegative, tuple(allowed))


PRODUCT_TYPES = ("finished_good", "material")

PRODUCT_MASTER = TableContract(
    "product_master",
    "Every item the plant sells or buys: finished goods and materials (raw and intermediate).",
    (
        _c("product_id", "str", True, "Item code, unique."),
        _c("product_name", "str", True, "Item name."),
        _c("product_type", "str", True, "finished_good or material.", allowed=PRODUCT_TYPES),
        _c("product_group", "str", True, "Planning group (e.g. CMP slurry, probe card, quartz)."),
        _c("unit", "str", True, "Unit of measure of every quantity of this item.", "EA, KG, L, ..."),
        _c("unit_cost", "float", True, "Standard cost of one unit.", "currency per unit", nonnegative=True),
        _c("unit_price", "float", False, "List selling price (finished goods).", "currency per unit", nonnegative=True),
        _c("currency", "str", True, "ISO 4217 currency of unit_cost and unit_price.", "KRW, USD, ..."),
        _c("production_line", "str", False, "Line that makes this finished good.", references="production_line.line_id"),
        _c("hours_per_unit", "float", False, "Line hours to make one unit.", "hours per unit", nonnegative=True),
        _c("lot_size", "float", False, "Production lot (finished goods) or minimum order quantity (materials).", "units", nonnegative=True),
        _c("holding_cost_rate", "float", False, "Yearly holding cost as a share of unit_cost (default 0.25).", "1/year", nonnegative=True),
        _c("ordering_cost", "float", False, "Fixed cost of one purchase order (materials, default 50,000).", "KRW per order", nonnegative=True),
        _c("setup_cost", "float", False, "Fixed cost of one production setup (finished goods, default 200,000).", "KRW per setup", nonnegative=True),
        _c("launch_date", "date", False, "First day the item could be ordered."),
        _c("eol_date", "date", False, "End of life: last day it can be ordered."),
    ),
    key=("product_id",),
    defaults={"holding_cost_rate": 0.25, "ordering_cost": 50_000.0, "setup_cost": 200_000.0},
)

CUSTOMER = TableContract(
    "customer",
    "Customers (buyers of finished goods).",
    (
        _c("customer_id", "str", True, "Customer code, unique."),
        _c("customer_name", "str", True, "Customer name."),
        _c("country", "str", True, "ISO 3166 alpha-2 country.", "KR, US, ..."),
        _c("segment", "str", False, "Sales segment (e.g. memory fab, foundry, OSAT)."),
    ),
    key=("customer_id",),
)

SUPPLIER = TableContract(
    "supplier",
    "Suppliers of materials.",
    (
        _c("supplier_id", "str", True, "Supplier code, unique."),
        _c("supplier_name", "str", True, "Supplier name."),
        _c("country", "str", True, "ISO 3166 alpha-2 country.", "KR, JP, ..."),
        _c("default_lead_time_days", "float", False, "Quoted lead time when no history exists.", "days", nonnegative=True),
    ),
    key=("supplier_id",),
)

PRODUCTION_LINE = TableContract(
    "production_line",
    "Optional: line capacities. Without it, capacity is taken from the busiest recent weeks.",
    (
        _c("line_id", "str", True, "Line code, unique."),
        _c("line_name", "str", False, "Line name."),
        _c("regular_hours_per_week", "float", True, "Regular capacity.", "hours per week", nonnegative=True),
        _c("overtime_hours_per_week", "float", False, "Extra capacity at overtime cost.", "hours per week", nonnegative=True),
        _c("overtime_cost_per_hour", "float", False, "Cost of one overtime hour.", "KRW per hour", nonnegative=True),
    ),
    key=("line_id",),
    optional_table=True,
)

BOM = TableContract(
    "bom",
    "Bill of materials, multi-level: a component may have its own BOM.",
    (
        _c("parent_product_id", "str", True, "Item made.", references="product_master.product_id"),
        _c("component_product_id", "str", True, "Item consumed.", references="product_master.product_id"),
        _c("qty_per", "float", True, "Units of component per unit of parent.", "component units per parent unit", nonnegative=True),
        _c("scrap_rate", "float", False, "Share of the component lost in production.", "0..1", nonnegative=True),
    ),
    key=("parent_product_id", "component_product_id"),
)

DAILY_ORDER = TableContract(
    "daily_order",
    "Customer order lines, by order date.",
    (
        _c("order_id", "str", True, "Order line id, unique."),
        _c("order_date", "date", True, "Day the order was received."),
        _c("customer_id", "str", True, "Buyer.", references="customer.customer_id"),
        _c("product_id", "str", True, "Item ordered.", references="product_master.product_id"),
        _c("order_qty", "float", True, "Quantity ordered.", "product units", nonnegative=True),
        _c("unit_price", "float", True, "Agreed price.", "currency per unit", nonnegative=True),
        _c("currency", "str", True, "ISO 4217 currency of unit_price."),
        _c("requested_delivery_date", "date", True, "Delivery date the customer asked for."),
    ),
    key=("order_id",),
    partition_grain="week",
    partition_column="order_date",
)

DAILY_REVENUE = TableContract(
    "daily_revenue",
    "Invoiced shipments, by revenue (shipping) date.",
    (
        _c("invoice_id", "str", True, "Invoice line id, unique."),
        _c("revenue_date", "date", True, "Day shipped and invoiced."),
        _c("customer_id", "str", True, "Buyer.", references="customer.customer_id"),
        _c("product_id", "str", True, "Item shipped.", references="product_master.product_id"),
        _c("shipped_qty", "float", True, "Quantity shipped.", "product units", nonnegative=True),
        _c("revenue_amount", "float", True, "Invoiced amount.", "currency", nonnegative=True),
        _c("currency", "str", True, "ISO 4217 currency of revenue_amount."),
        _c("order_id", "str", False, "Order line fulfilled."),
    ),
    key=("invoice_id",),
    partition_grain="week",
    partition_column="revenue_date",
)

DAILY_PRODUCTION = TableContract(
    "daily_production",
    "Finished production per item and day.",
    (
        _c("production_date", "date", True, "Day produced."),
        _c("product_id", "str", True, "Item produced.", references="product_master.product_id"),
        _c("produced_qty", "float", True, "Good units produced.", "product units", nonnegative=True),
        _c("production_line", "str", False, "Line used."),
    ),
    key=("production_date", "product_id"),
    partition_grain="week",
    partition_column="production_date",
)

INVENTORY = TableContract(
    "inventory",
    "On-hand stock snapshots, taken at the start of each month (before that day's movements).",
    (
        _c("snapshot_date", "date", True, "Day of the count."),
        _c("product_id", "str", True, "Item counted.", references="product_master.product_id"),
        _c("on_hand_qty", "float", True, "Units on hand.", "product units", nonnegative=True),
    ),
    key=("snapshot_date", "product_id"),
    partition_grain="month",
    partition_column="snapshot_date",
)

PURCHASE_ORDER = TableContract(
    "purchase_order",
    "Purchase order lines to suppliers; received_date empty while open. Partitioned by order month "
    "because receipts update a line after it is placed: re-exporting a month refreshes its receipts.",
    (
        _c("po_id", "str", True, "PO line id, unique."),
        _c("supplier_id", "str", True, "Supplier.", references="supplier.supplier_id"),
        _c("product_id", "str", True, "Material ordered.", references="product_master.product_id"),
        _c("order_date", "date", True, "Day the PO was placed."),
        _c("order_qty", "float", True, "Quantity ordered.", "product units", nonnegative=True),
        _c("unit_cost", "float", True, "Agreed price.", "currency per unit", nonnegative=True),
        _c("currency", "str", True, "ISO 4217 currency of unit_cost."),
        _c("promised_date", "date", True, "Delivery date the supplier promised."),
        _c("received_date", "date", False, "Day received; empty while open."),
        _c("received_qty", "float", False, "Quantity received.", "product units", nonnegative=True),
    ),
    key=("po_id",),
    partition_grain="month",
    partition_column="order_date",
)

MASTER_TABLES = (PRODUCT_MASTER, CUSTOMER, SUPPLIER, PRODUCTION_LINE, BOM)
TRANSACTION_TABLES = (DAILY_ORDER, DAILY_REVENUE, DAILY_PRODUCTION, INVENTORY, PURCHASE_ORDER)
ALL_TABLES = MASTER_TABLES + TRANSACTION_TABLES
CONTRACTS = {t.name: t for t in ALL_TABLES}


def render_markdown() -> str:
    lines = [
        "# ERP data contract",
        "",
        "Generated from `dsop_resources/erp/contract.py`; file names and header aliases (English and Korean)",
        "come from `dsop_resources/erp/column_mapping.yaml`. Files may be UTF-8 (with or without BOM) or CP949.",
        "Dates are exactly `YYYY-MM-DD` (also accepted: `YYYY/MM/DD`, `YYYYMMDD`, `YYYY.MM.DD`; nothing",
        "after them). Numbers are plain (`-1234.5`) or correctly grouped thousands (`1,234.5`, quoted in the",
        "CSV); `NaN`, `inf`, exponents, `+5` and `1,5` are rejected, not coerced. A row that breaks a rule,",
        "has too many or too few fields, malformed quoting, a NUL byte, a date outside the partitions, or",
        "is a cut-off last line goes to `erp_rejected_rows` with its file, true line number and reason; the",
        "other rows load (details: docs/ingest.md).",
        "",
    ]
    for table in ALL_TABLES:
        grain = (
            f"partitioned by {'ISO week' if table.partition_grain == 'week' else 'month'} of `{table.partition_column}`"
            if table.partition_grain
            else "not partitioned (master data, replaced whole)"
        )
        optional = " Optional table." if table.optional_table else ""
        lines += [
            f"## `{table.name}`",
            "",
            f"{table.description}{optional} Key: `{', '.join(table.key)}`; {grain}.",
            "",
            "| column | type | unit | required | rules | description |",
            "|---|---|---|---|---|---|",
        ]
        for col in table.columns:
            rules = []
            if col.name in table.key:
                rules.append("key")
            if col.references:
                rules.append(f"must exist in `{col.references}`")
            if col.nonnegative:
                rules.append(">= 0")
            if col.allowed:
                rules.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
            if col.name in table.defaults:
                rules.append(f"default {table.defaults[col.name]}")
            lines.append(
                f"| `{col.name}` | {col.dtype} | {col.unit} | {'yes' if col.required else 'no'} | "
                f"{'; '.join(rules)} | {col.description} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
