"""Look at dsop the way a user does: the webserver on a real instance, headless Chromium screenshots of the
asset graph and a partitions page, and partition status read over the UI's own GraphQL API.

As a script it runs the whole tiny demo first (once: a second call reuses it) and reports every asset,
partitioned or not, and what the Checks tab shows for each check on the partitions materialised (Passed
is SUCCEEDED; Skipped, Failed or Execution failed are listed). Without chromium it skips the screenshots
and still reports:

    python -m tests.ui.ui_check --out /tmp/dsop_ui      # screenshots and missing_partitions.json land there

``tests/ui/test_ui_chromium.py`` runs the same checks on the aggregate layer only, to stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PARTITION_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      assetPartitionStatuses { __typename ... on TimePartitionStatuses { ranges { status startKey endKey } } }
    }
  }
}
"""
LOCATION = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
PAGES = {"asset_graph.png": "/asset-groups", "partitions.png": "/assets/weekly_product_summary?view=partitions",
         "checks.png": "/assets/daily_order?view=checks"}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


def start_webserver(port: int, env: dict, cwd: Path) -> subprocess.Popen:
    webserver = Path(sys.executable).with_name("dagster-webserver")
    return subprocess.Popen([str(webserver), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_loaded(port: int, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"webserver exited with {server.returncode}")
        try:
            entries = graphql(port, LOCATION)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"the code location did not load within {timeout}s")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the group this module started
        server.wait()


def screenshot(browser: str, url: str, path: Path) -> Path:
    """A PNG of ``url`` after the page's scripts have had 20 s of (virtual) time to render."""
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1600,1000", "--virtual-time-budget=20000", f"--screenshot={path}", url],
                   capture_output=True, timeout=180, check=True)
    return path


def distinct_colours(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def missing_partitions(port: int, key: str, wanted: list[str]) -> list[str]:
    """Keys of ``wanted`` that the UI does not show as materialised for ``key``."""
    node = graphql(port, PARTITION_STATUS, {"key": {"path": [key]}})["assetNodeOrError"]
    ranges = node["assetPartitionStatuses"]["ranges"]
    done = [(r["startKey"], r["endKey"]) for r in ranges if r["status"] == "MATERIALIZED"]
    return [k for k in wanted if not any(start <= k <= end for start, end in done)]


def keys_in_range(partitions_def, first_day: str, last_day: str, complete_only: bool = False) -> list[str]:
    """Partition keys whose period overlaps [first_day, last_day] (keys are ISO dates, so they sort).

    ``complete_only``: only periods that ended by ``last_day``. Forecasts, decisions and analytics are made
    as of a closed period, so a month the data covers only in part (data to 29 November) is not one of
    theirs; the raw tables and aggregates load it, and keep it."""
    keys = partitions_def.get_partition_keys()
    inside = [k for k in keys if first_day <= k <= last_day]
    before = [k for k in keys if k < first_day]
    wanted = ([before[-1]] if before and first_day not in keys else []) + inside
    if complete_only:
        end = (date.fromisoformat(last_day) + timedelta(days=1)).isoformat()
        wanted = [k for k in wanted if partitions_def.time_window_for_partition_key(k).end.date().isoformat() <= end]
    return wanted


def complete_only_groups() -> set[str]:
    """Asset groups the demo builds as of closed periods only (its stages say which)."""
    from dsop_jobs.pipeline import demo_stages

    return {g for stage in demo_stages() if stage.complete_only for g in stage.groups or ()}


UNPARTITIONED_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { assetMaterializations(limit: 1) { timestamp } } }
}
"""


def ever_materialised(port: int, key: str) -> bool:
    node = graphql(port, UNPARTITIONED_STATUS, {"key": {"path": [key]}})["assetNodeOrError"]
    return bool(node["assetMaterializations"])


def partition_report(port: int, graph, first_day: str, last_day: str) -> dict[str, dict]:
    """Per asset (multi-asset specs each on their own): group, partitions inside the data range, how
    many the UI shows missing and the first few; an unpartitioned asset counts 1 (materialised or not)."""
    import dagster as dg

    report, closed_only = {}, complete_only_groups()
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node, name = graph.get(key), key.to_user_string()
        if isinstance(node.partitions_def, dg.TimeWindowPartitionsDefinition):
            wanted = keys_in_range(node.partitions_def, first_day, last_day, node.group_name in closed_only)
            missing = missing_partitions(port, name, wanted)
        elif node.partitions_def is None and node.is_materializable:
            wanted, missing = ["(unpartitioned)"], [] if ever_materialised(port, name) else ["(never)"]
        else:  # static partitions (beer-game scenarios) and external assets: not about the data range
            continue
        shown = check_statuses(port, name, [k for k in wanted if k not in missing] if node.partitions_def else [])
        report[name] = {"group": node.group_name, "in_data_range": len(wanted), "missing": len(missing),
                        "first_missing": missing[:5],
                        # materialised partitions whose check is not shown Passed, per check and status
                        "checks_not_passed": {c: {st: keys[:5] for st, keys in by.items() if st != "SUCCEEDED"}
                                              for c, by in shown.items() if set(by) - {"SUCCEEDED"}}}
    return report


CHECK_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks {
    name
    executionForLatestMaterialization { status }
    partitionStatuses { __typename ... on AssetCheckTimePartitionStatuses { ranges { status startKey endKey } } }
  } } } } }
}
"""


def check_statuses(port: int, key: str, wanted: list[str]) -> dict[str, dict[str, list[str]]]:
    """What the Checks tab shows for ``key``: check name -> status -> keys of ``wanted`` in that status
    (partitioned checks), or -> ["(latest)"] (unpartitioned ones: the latest materialisation's result);
    a wanted partition the check never ran on is listed under "NOT_RUN"."""
    node = graphql(port, CHECK_STATUS, {"key": {"path": [key]}})["assetNodeOrError"]
    shown = {}
    for check in (node.get("assetChecksOrError") or {}).get("checks", []):
        statuses = check["partitionStatuses"]
        if statuses and statuses["__typename"] == "AssetCheckTimePartitionStatuses":
            by_status: dict[str, list[str]] = {}
            for k in wanted:
                status = next((r["status"] for r in statuses["ranges"] if r["startKey"] <= k <= r["endKey"]), "NOT_RUN")
                by_status.setdefault(status, []).append(k)
        else:
            latest = check["executionForLatestMaterialization"]
            by_status = {latest["status"] if latest else "NOT_RUN": ["(latest)"]}
        shown[check["name"]] = by_status
    return shown


def main(argv: list[str] | None = None) -> int:
    from dsop_jobs.serve import free_port

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the demo, the instance and the screenshots")
    args = parser.parse_args(argv)
    browser = chromium()
    if browser is None:
        print("no chromium on PATH (Debian: apt-get install -y chromium): partition status only, no screenshots",
              file=sys.stderr)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(out / ".dagster_home")}
    home_config = out / ".dagster_home" / "dagster.yaml"
    home_config.parent.mkdir(exist_ok=True)
    # nux off: the first-visit dialog would cover the screenshots (also on a demo folder made by `dsop demo`)
    if not home_config.exists():
        home_config.write_text((REPO / "deploy" / "dagster.yaml").read_text())
    if "nux:" not in home_config.read_text():
        home_config.write_text(home_config.read_text() + "\nnux:\n  enabled: false\n")
    if not (out / "data" / "erp" / "manifest.json").exists() or not (out / "data" / "dsop.duckdb").exists():
        subprocess.run([sys.executable, "-m", "dsop_jobs.cli", "demo", "--scale", "tiny"], cwd=out, env=env, check=True)
    manifest = json.loads((out / "data" / "erp" / "manifest.json").read_text())
    env |= {"DSOP_ERP_DIR": str(out / "data" / "erp"), "DSOP_DUCKDB_PATH": str(out / "data" / "dsop.duckdb"),
            "DSOP_HISTORY_START": manifest.get("history_start") or manifest["start_date"]}
    os.environ["DSOP_HISTORY_START"] = env["DSOP_HISTORY_START"]  # read when the definitions load
    from dotenv import dotenv_values

    # The go-live week and network start the demo chose (its .env): partitions start from them.
    for name in ("DSOP_GO_LIVE", "DSOP_NETWORK_START"):
        value = dotenv_values(out / ".env").get(name)
        if value:
            os.environ[name] = env[name] = value
    from dsop_jobs.definitions import defs

    port = free_port("127.0.0.1")
    server = start_webserver(port, env, out)
    try:
        wait_until_loaded(port, server)
        for name, page in PAGES.items() if browser else ():
            screenshot(browser, f"http://127.0.0.1:{port}{page}", out / name)
        report = partition_report(port, defs.resolve_asset_graph(), manifest["start_date"], manifest["end_date"])
    finally:
        stop(server)
    (out / "missing_partitions.json").write_text(json.dumps(report, indent=2))
    for key, row in report.items():
        print(f"{row['group'] or '':<22} {key:<40} {row['missing']:>4} of {row['in_data_range']:>4} missing "
              f"{row['first_missing']}" + (f"  checks not passed: {row['checks_not_passed']}"
                                           if row["checks_not_passed"] else ""))
    return 0 if not any(r["missing"] or r["checks_not_passed"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
