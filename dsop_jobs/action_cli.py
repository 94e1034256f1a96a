"""``dsop action``: record what a planner did with an action, straight into ``action_status``.

    dsop action done ACTION_ID [--by kim]
    dsop action dismiss ACTION_ID --reason "customer cancelled"
    dsop action snooze ACTION_ID --until 2026-12-14
    dsop action start ACTION_ID          # in progress
    dsop action reopen ACTION_ID
    dsop action list [--week 2026-11-23] [--priority Critical,High]

The same validation as the CSV drop; ``action_kpi`` picks the update up on its next
materialisation (the action_status_sensor starts one when it sees the new row).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timezone

import polars as pl

VERBS = {"done": "done", "dismiss": "dismissed", "snooze": "snoozed", "start": "in_progress", "reopen": "open"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    action = sub.add_parser("action", help="record done / dismissed / snoozed for an action, or list actions")
    verbs = action.add_subparsers(dest="verb", required=True)
    for verb in VERBS:
        p = verbs.add_parser(verb, help=f"mark an action {VERBS[verb].replace('_', ' ')}")
        p.add_argument("action_id")
        p.add_argument("--reason", help="why (required for dismiss)")
        if verb == "snooze":
            p.add_argument("--until", required=True, help="YYYY-MM-DD: the action reopens on this day")
        p.add_argument("--by", default=os.getenv("USER"), help="who (default: $USER)")
        p.add_argument("--at", help="when it happened (YYYY-MM-DD[THH:MM]); default: now, UTC")
    listing = verbs.add_parser("list", help="the queue of a week with each action's current status")
    listing.add_argument("--week", help="Monday of the ISO week (default: the latest week)")
    listing.add_argument("--priority", help="comma-separated, e.g. Critical,High")
    action.set_defaults(func=cmd_action)


def _warehouse():
    from dsop_resources.factory import warehouse_resource

    # Initialised the way a run does it: dg.EnvVar fields (the Postgres URL) resolve (used directly,
    # the resource would see the variable's name), and DuckDB publishes its read copy at the end.
    return warehouse_resource().process_config_and_initialize_cm()


def cmd_action(args: argparse.Namespace, warehouse=None) -> int:
    if warehouse is None:
        with _warehouse() as opened:
            return cmd_action(args, opened)
    from dsop_assets.planner import action_status as status

    if args.verb == "list":
        return _list(warehouse, args)
    if not warehouse.table_exists("action_queue"):
        print("[dsop] no action_queue yet: materialise it first", file=sys.stderr)
        return 2
    known = warehouse.query("select action_id from action_queue where action_id = $a", {"a": args.action_id})
    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        until = date.fromisoformat(args.until) if getattr(args, "until", None) else None
    except ValueError as error:
        print(f"[dsop] {error}", file=sys.stderr)
        return 2
    update = status.StatusUpdate(args.action_id, VERBS[args.verb], at, args.reason, until, args.by)
    found = status.problems(update, set(known["action_id"]))
    if found:
        print(f"[dsop] not recorded: {'; '.join(found)}", file=sys.stderr)
        return 2
    status.append_updates(warehouse, status.to_frame([update], "cli"))
    print(f"[dsop] {args.action_id}: {update.status}" + (f" until {until}" if until else "")
          + (f" ({update.reason})" if update.reason else "") + f" recorded at {at:%Y-%m-%d %H:%M}")
    return 0


def _list(warehouse, args: argparse.Namespace) -> int:
    from dsop_assets.planner.gather import actions

    if not warehouse.table_exists("action_queue"):
        print("[dsop] no action_queue yet", file=sys.stderr)
        return 2
    week = date.fromisoformat(args.week) if args.week else warehouse.query(
        "select max(week_start) as w from action_queue")["w"][0]
    rows = actions(warehouse, week, week.fromordinal(week.toordinal() + 6))
    if args.priority:
        rows = rows.filter(pl.col("priority").is_in(args.priority.split(",")))
    with pl.Config(tbl_rows=200, fmt_str_lengths=60, tbl_width_chars=200):
        print(f"week {week}: {rows.height} actions")
        print(rows.select("action_id", "priority", "product_id", "material_id", "action_label", "suggested_qty", "status"))
    return 0
