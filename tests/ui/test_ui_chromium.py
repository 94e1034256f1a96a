"""The UI on a real instance after a tiny history load: the UI's GraphQL shows no missing partition inside
the data range for any raw, staging, mart or feature-store asset, every check of theirs Passed on each of
those partitions, and (with chromium on PATH) headless screenshots of the
asset graph, a partitions page and a Checks tab render. Only the aggregate layer: forecasts, decisions and analytics are
not checked here (the demo runs them for its latest periods only). The whole demo, every asset:
``python -m tests.ui.ui_check --out DIR``."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg
import pytest

from tests.ui.ui_check import (
    PAGES,
    REPO,
    check_statuses,
    chromium,
    distinct_colours,
    ever_materialised,
    keys_in_range,
    missing_partitions,
    screenshot,
    start_webserver,
    stop,
    wait_until_loaded,
)

END = date(2025, 6, 29)
GROUPS = ("erp_raw", "external", "staging", "marts", "features")  # what `dsop demo` builds over the whole history


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A tiny history of the aggregate layer in a real instance, and the webserver on it."""
    from dsop_jobs.demo_data.generator import generate
    from dsop_jobs.definitions import build_assets
    from dsop_jobs.jobs import HEALTH_JOB, MASTER_JOB, MONTHLY_JOB, WEEKLY_JOB, build_jobs
    from dsop_jobs.pipeline import Stage, run_history
    from dsop_assets.quality.checks import build_quality_checks
    from dsop_jobs.serve import free_port
    from dsop_resources.factory import core_resources

    tmp_path = tmp_path_factory.mktemp("ui")
    home, erp, duck = tmp_path / "home", tmp_path / "erp", tmp_path / "dsop.duckdb"
    home.mkdir()
    # nux off: the first-visit "join the community" dialog would cover the screenshots.
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text() + "\nnux:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {"DAGSTER_HOME": str(home), "DSOP_ERP_DIR": str(erp), "DSOP_DUCKDB_PATH": str(duck),
                            "DSOP_DUCKDB_READ_PATH": ""}.items():
            monkeypatch.setenv(name, value)
        manifest = generate(erp, scale="tiny", seed=11, end_date=END)
        # With the quality checks: the Checks tab is part of what the UI must show right.
        assets = build_assets()
        defs = dg.Definitions(assets=assets, asset_checks=build_quality_checks(assets), jobs=build_jobs(assets),
                              resources=core_resources(erp_dir=str(erp)))
        # The history as ranges (one run per grain, like a single-run backfill), then the latest week on
        # its own, as the weekly schedule runs it: each must leave its checks Passed per partition.
        stages = [Stage("masters", MASTER_JOB), Stage("weekly", WEEKLY_JOB, GROUPS),
                  Stage("monthly", MONTHLY_JOB, GROUPS), Stage("latest week", WEEKLY_JOB, GROUPS, 1, True),
                  Stage("pipeline health", HEALTH_JOB)]
        with dg.DagsterInstance.get() as instance:
            run_history(defs, instance, date.fromisoformat(manifest["start_date"]), END, stages)
        port = free_port("127.0.0.1")
        server = start_webserver(port, dict(os.environ), tmp_path)
        try:
            wait_until_loaded(port, server)
            yield {"port": port, "defs": defs, "first": manifest["start_date"], "last": manifest["end_date"],
                   "dir": tmp_path}
        finally:
            stop(server)


def test_ui_shows_no_missing_partitions_in_the_data_range(ui):
    """Read over the UI's GraphQL, so it runs without a browser."""
    from dsop_assets.partitions import monthly_partitions, weekly_partitions

    graph = ui["defs"].resolve_asset_graph()
    checked = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in GROUPS and node.partitions_def in (weekly_partitions, monthly_partitions):
            wanted = keys_in_range(node.partitions_def, ui["first"], ui["last"])
            checked[key.to_user_string()] = missing_partitions(ui["port"], key.to_user_string(), wanted)
    assert {"daily_order", "stg_daily_order", "weekly_product_summary", "monthly_product_summary"} <= set(checked)
    assert not {k: v[:5] for k, v in checked.items() if v}, "partitions missing inside the data range"
    # The run-outcome table reads the instance the UI shows, runs of this history included.
    assert ever_materialised(ui["port"], "pipeline_health")


def test_ui_shows_every_check_passed_per_partition(ui):
    """The Checks tab, over GraphQL: every check of the aggregate layer reads Passed (SUCCEEDED) on every
    partition of the data range, none Skipped, Execution failed or not run, including the latest week
    re-run on its own (a range run of one partition used to stamp its results on no partition)."""
    from dsop_assets.partitions import monthly_partitions, weekly_partitions

    graph = ui["defs"].resolve_asset_graph()
    shown, partitioned_checks = {}, 0
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in GROUPS and node.partitions_def in (weekly_partitions, monthly_partitions):
            wanted = keys_in_range(node.partitions_def, ui["first"], ui["last"])
            for check, by_status in check_statuses(ui["port"], key.to_user_string(), wanted).items():
                shown[f"{key.to_user_string()}:{check}"] = by_status
                partitioned_checks += "(latest)" not in by_status.get("SUCCEEDED", [])
    assert {"daily_order:daily_order_quality", "weekly_product_summary:weekly_product_summary_quality",
            "monthly_product_summary:monthly_product_summary_quality"} <= set(shown)
    assert partitioned_checks >= 7  # raw daily and monthly tables, staging, marts, feature stores (2026-12-03: 7)
    not_passed = {name: {status: keys[:3] for status, keys in by.items() if status != "SUCCEEDED"}
                  for name, by in shown.items() if set(by) != {"SUCCEEDED"}}
    assert not not_passed, f"checks not shown as Passed: {not_passed}"


def test_ui_renders_the_graph_and_partitions_pages(ui):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium); screenshots need a headless browser")
    shots = {name: screenshot(browser, f"http://127.0.0.1:{ui['port']}{page}", ui["dir"] / name)
             for name, page in PAGES.items()}
    for name, path in shots.items():
        # A blank or error page has a handful of colours; the rendered graph and partition bars have many.
        assert distinct_colours(path) > 50, f"{name} looks blank"
