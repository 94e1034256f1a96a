"""dsop's assets, one folder per domain: erp, external, sql models, inventory, forecast, risk, planning."""

import warnings

# backfill_policy and pools are flagged beta/preview in Dagster 1.13 but are the documented way
# to batch a backfill into one run and to queue DuckDB writers; the warnings are noise for users.
warnings.filterwarnings("ignore", message=".*is currently in (beta|preview).*")
