"""Open a report in headless Chromium and say what a person would see (used by the tests and docs).

Talks the DevTools protocol over a websocket: navigate to the file, time the load event, collect
console errors and uncaught exceptions, list the page's sections and take a screenshot.

    python -m dsop_jobs.tools.report_browser REPORT.html [--screenshot out.png]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "--hide-scrollbars"]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@dataclass
class PageCheck:
    load_ms: float
    sections: list[str]
    headings: list[str]
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    requests_outside: list[str] = field(default_factory=list)


def inspect(report: Path, width: int = 1280, height: int = 900, timeout: float = 60.0) -> PageCheck:
    from websockets.sync.client import connect

    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary on PATH")
    # Chromium's helper processes may still be writing the profile as it is removed: never fail on that.
    with tempfile.TemporaryDirectory(prefix="dsop_chromium_", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                    "about:blank"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                   start_new_session=True)
        try:
            browser_ws = _wait_for_endpoint(process, timeout)
            port = int(browser_ws.split(":")[2].split("/")[0])
            target = requests.put(f"http://127.0.0.1:{port}/json/new?about:blank", timeout=10).json()
            with connect(target["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=timeout) as ws:
                return _check(_Session(ws), report, width, height, timeout)
        finally:  # the whole process group: the browser and its renderer and zygote helpers
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(10)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _wait_for_endpoint(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        found = _LISTENING.search(line)
        if found:
            return found.group(1)
    raise RuntimeError("chromium did not start its DevTools endpoint: " + "".join(lines[-10:]))


class _Session:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method: str, timeout: float = 30.0, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("method") == method:
                return message
            self.events.append(message)


def _check(s: _Session, report: Path, width: int, height: int, timeout: float) -> PageCheck:
    for domain in ("Page", "Runtime", "Log", "Network"):
        s.call(f"{domain}.enable")
    s.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    began = time.perf_counter()
    s.call("Page.navigate", url=report.resolve().as_uri())
    s.wait_for("Page.loadEventFired", timeout)
    wall_ms = (time.perf_counter() - began) * 1000
    nav = s.call("Runtime.evaluate", returnByValue=True, expression=(
        "(() => { const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : null })()"))
    load_ms = nav["result"].get("value") or wall_ms
    found = s.call("Runtime.evaluate", returnByValue=True, expression=(
        "JSON.stringify({ids: [...document.querySelectorAll('section[data-section]')].map(e => e.id),"
        " h2: [...document.querySelectorAll('section[data-section] > h2')].map(e => e.textContent)})"))
    page = json.loads(found["result"]["value"])
    shot = s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, timeout=timeout)
    errors, outside = [], []
    for event in s.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                outside.append(url)
    return PageCheck(float(load_ms), page["ids"], page["h2"], errors, base64.b64decode(shot["data"]), outside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    check = inspect(args.report, height=args.height)
    if args.screenshot:
        args.screenshot.write_bytes(check.screenshot)
    print(json.dumps({"load_ms": round(check.load_ms, 1), "sections": check.sections,
                      "console_errors": check.console_errors, "network_outside": check.requests_outside}, indent=1,
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
