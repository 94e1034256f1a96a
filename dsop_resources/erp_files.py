"""The ERP export folder as a resource, so tests and deployments point the raw assets elsewhere."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from dsop_resources.erp.contract import TableContract
from dsop_resources.erp.mapping import load_mapping
from dsop_resources.erp.reader import ParsedTable, parse_table
from dsop_resources.erp.scope import PartitionScope


class ErpExportFolder(dg.ConfigurableResource):
    """Folder of ERP CSV exports (``DSOP_ERP_DIR``) and an optional column-mapping override."""

    erp_dir: str = Field(description="Folder holding the exports; files in its inbox/ count too.")
    column_mapping: str | None = Field(
        default=None, description="YAML extending the shipped English/Korean name mapping."
    )

    def parse(
        self, table: TableContract, known: dict[str, pl.Series], scope: PartitionScope | None = None
    ) -> ParsedTable:
        """The table's exports, limited to ``scope``'s rows where that is exact (see ``parse_table``)."""
        return parse_table(Path(self.erp_dir), table, load_mapping(self.column_mapping), known, scope)
