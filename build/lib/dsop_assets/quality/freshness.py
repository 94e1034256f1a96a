"""Freshness expectations: the ERP exports and external indicators must keep arriving.

Dagster 1.13 evaluates freshness policies in the daemon, no sensor needed. A weekly raw table is
stale when it was not refreshed during the week before Monday 09:00 (the refresh runs at 05:00);
a monthly one when not refreshed in the month before the 2nd 09:00; external indicators when
nothing was fetched for two days (they refresh daily; most publish on business days only).
"""

from datetime import timedelta

import dagster as dg

from dsop_assets.partitions import TIMEZONE

WEEKLY_ERP = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=timedelta(days=7), timezone=TIMEZONE)
MONTHLY_ERP = dg.FreshnessPolicy.cron(deadline_cron="0 9 2 * *", lower_bound_delta=timedelta(days=28), timezone=TIMEZONE)
EXTERNAL = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(days=1))
