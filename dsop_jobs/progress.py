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
        # step -> (check name, partitions passed, failed partitions): a range run stamps every
        # partition, so its results are summed up in one line when the step ends.
        self.partition_checks: dict[str, tuple[str, int, list]] = {}

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
        mark = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED"}.get(kind)
        seconds = time.perf_counter() - self.started.pop(step, time.perf_counter()) if mark else 0.0
        if mark and step in self.partition_checks:
            self._print_partition_checks(*self.partition_checks.pop(step))
        if mark == "ok" and step.endswith("_quality"):
            return  # the check's own line says it passed
        if mark:
            print(f"    {mark:<6} {step:<34} {seconds:6.1f}s", file=sys.stderr, flush=True)
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data.partition is not None:
                name, passed, failed = self.partition_checks.get(step, (data.check_name, 0, []))
                self.partition_checks[step] = (name, passed + data.passed, failed + ([] if data.passed else [data]))
                return
            state = "passed" if data.passed else "FAILED"
            print(f"    check  {data.check_name:<34} {state}", file=sys.stderr, flush=True)
            failures = data.metadata.get("failures")
            if not data.passed and failures is not None:
                for failure in failures.value[:5]:
                    print(f"           {failure['rule']}: {failure['unexpected_count']} rows, e.g. {failure['examples'][:3]}",
                          file=sys.stderr, flush=True)

    @staticmethod
    def _print_partition_checks(name: str, passed: int, failed: list) -> None:
        state = f"passed in {passed} partitions" if not failed else f"FAILED in {len(failed)} of {passed + len(failed)} partitions"
        print(f"    check  {name:<34} {state}", file=sys.stderr, flush=True)
        for data in failed[:5]:
            for failure in data.metadata["failures"].value[:3]:
                print(f"           {data.partition} {failure['rule']}: {failure['unexpected_count']} rows, "
                      f"e.g. {failure['examples'][:3]}", file=sys.stderr, flush=True)


@dg.logger(description="One line per finished step, for the dsop CLI.")
def step_progress_logger(init_context) -> logging.Logger:
    log = logging.getLogger("dsop.progress")
    log.handlers = [_StepPrinter()]
    log.setLevel(logging.DEBUG)  # Dagster logs step events at DEBUG
    log.propagate = False
    return log
