"""A terse run logger for the CLI, so a long materialisation never leaves the terminal silent."""

import logging
import sys
import time

import dagster as dg

_SHOWN = {"STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


class _StepPrinter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None:
            if record.levelno >= logging.WARNING:
                print(f"    ! {record.getMessage()[:300]}", file=sys.stderr, flush=True)
            return
        kind, step = event.event_type_value, event.step_key
        if kind not in _SHOWN:
            return
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
            return
        seconds = time.perf_counter() - self.started.pop(step, time.perf_counter())
        mark = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED"}.get(kind)
        if mark == "ok" and step.endswith("_quality"):
            return  # the check's own line says it passed
        if mark:
            print(f"    {mark:<6} {step:<34} {seconds:6.1f}s", file=sys.stderr, flush=True)
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            state = "passed" if data.passed else "FAILED"
            print(f"    check  {data.check_name:<34} {state}", file=sys.stderr, flush=True)
            failures = data.metadata.get("failures")
            if not data.passed and failures is not None:
                for failure in failures.value[:5]:
                    print(f"           {failure['rule']}: {failure['unexpected_count']} rows, e.g. {failure['examples'][:3]}",
                          file=sys.stderr, flush=True)


@dg.logger(description="One line per finished step, for the dsop CLI.")
def step_progress_logger(init_context) -> logging.Logger:
    log = logging.getLogger("dsop.progress")
    log.handlers = [_StepPrinter()]
    log.setLevel(logging.DEBUG)  # Dagster logs step events at DEBUG
    log.propagate = False
    return log
