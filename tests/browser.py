"""The web view as a user runs it: a real `agentsup web` process (its printed URL read back), and
Debian's chromium driven by Playwright, every request it makes recorded."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# The flags a root, offline machine needs: no sandbox (root), no calls home (the network is closed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update",
                 "--host-resolver-rules=MAP evil.example 127.0.0.1"]  # a rebinding attacker's name


@dataclass
class WebServer:
    """A running `agentsup web`: its login URL, its base, and the process."""

    proc: subprocess.Popen[str]
    login: str

    @property
    def base(self) -> str:
        return self.login.split("/login", 1)[0]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def token(self) -> str:
        return self.login.split("token=", 1)[1]


@contextlib.contextmanager
def web_server(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Iterator[WebServer]:
    """`agentsup ARGV web --port 0 ...` until the block ends, then SIGTERM: it must stop cleanly."""
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the login URL, printed once it listens
    if not line.startswith("http://"):
        proc.kill()
        raise AssertionError(f"agentsup web printed {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield WebServer(proc, line)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("agentsup web did not stop on SIGTERM") from None
        err = proc.stderr.read() if proc.stderr else ""
        assert code == 0 and "Traceback" not in err, f"exit {code}: {err}"


@dataclass
class Browser:
    """A chromium page, and every URL any of its pages requested (with the Referer it sent)."""

    browser: Any
    page: Any
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fresh(self) -> Any:
        """A new context (no cookie) whose requests are recorded too."""
        context = self.browser.new_context()
        context.on("request", self._seen)
        return context.new_page()

    def _seen(self, request: Any) -> None:
        self.requests.append((request.url, request.headers.get("referer", "")))


@pytest.fixture
def browser_page() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            holder = Browser(browser, None)
            holder.page = holder.fresh()
            holder.page.set_default_timeout(20_000)
            yield holder
        finally:
            browser.close()


def wait_until(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value
