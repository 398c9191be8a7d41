"""Turn result objects into human text (rich) or stable JSON. Only the CLI calls this."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .control import ActionResult
from .status import StatusReport

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STATE_STYLES = {
    "RUNNING": "green", "STARTING": "cyan", "STOPPED": "dim", "EXITED": "yellow", "STALLED": "yellow",
    "BACKOFF": "yellow", "FATAL": "bold red", "LIMITED": "magenta", "WAITING": "cyan", "SLEEPING": "blue",
    "DONE": "green", "FAILED": "red", "CANCELLED": "dim", "PENDING": "dim",
}


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def action_lines(results: Sequence[ActionResult]) -> None:
    styles = {"started": "green", "restarted": "yellow", "stopped": "yellow", "already-running": "dim",
              "not-running": "dim", "queued": "cyan"}
    for r in results:
        line = Text.assemble((f"{r.action:<16}", styles.get(r.action, "")), f"{r.name}  ({r.session})")
        if r.detail:
            line.append(f"  {r.detail}", style="dim")
        if r.typed_prompt is not None:
            line.append(f"  kickoff {r.typed_prompt.result.value}",
                        style="green" if r.typed_prompt.ok else "red")
        out.print(line)


def status_table(report: StatusReport) -> Table:
    """Names and state words are never cut: a narrow terminal drops the kind, model and watch
    columns instead, and on a narrow terminal or in a pipe the detail goes on a line of its own
    under the state instead of stretching the row."""
    names = [a.name for a in report.agents] + [s.name for s in report.services]
    wide = out.width >= 80
    apart = not out.is_terminal or out.width < 100
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("AGENT", no_wrap=True, min_width=max([5, *map(len, names)]))
    for col in ("KIND", "BACKEND", "MODEL", "WATCH") if wide else ("BACKEND",):
        table.add_column(col, no_wrap=True)
    table.add_column("STATE", min_width=9, overflow="fold")  # the longest state word: CANCELLED
    table.add_column("PID", no_wrap=True)
    table.add_column("UPTIME", no_wrap=True)

    def row(name: str, kind: str, backend: str, model: str, watch: str, state: Text, pid: int | None,
            uptime: int | None) -> None:
        middle = (kind, backend, model, watch) if wide else (backend,)
        table.add_row(name, *middle, state, str(pid) if pid else "-", duration(uptime))

    for a in report.agents:
        state = Text(a.state, style=STATE_STYLES.get(a.state, ""))
        extra = a.detail
        if a.exit_code is not None and a.state in ("EXITED", "FATAL", "FAILED", "DONE"):
            extra = f"{extra} exit {a.exit_code}".strip()
        if a.reset_at:
            extra = f"{extra} until {a.reset_at}".strip()
        if extra:
            state.append(f"\n{extra}" if apart else f" ({extra})", style="dim")
        row(a.name, a.kind, a.backend, a.model, a.watch, state, a.pid, a.uptime_s)
    for s in report.services:
        state = Text(s.state, style=STATE_STYLES.get(s.state, ""))
        if s.exit_code is not None and s.state == "EXITED":
            state.append(f"\nexit {s.exit_code}" if apart else f" (exit {s.exit_code})", style="dim")
        row(s.name, "service", "-", "-", "-", state, s.pid, s.uptime_s)
    return table


def until(iso: str | None, now: float) -> str:
    """'in 1h23m' for a time still ahead, '' otherwise."""
    from datetime import datetime

    if not iso:
        return ""
    try:
        left = datetime.fromisoformat(iso).timestamp() - now
    except ValueError:
        return ""
    return f"in {duration(left)}" if left > 0 else "now"


def live_view(report: StatusReport, events: list[dict[str, Any]]) -> Group:
    """What `status --watch` shows each second: the header, the table, each agent's countdowns and
    last event."""
    import time as _time

    now = _time.time()
    last: dict[str, dict[str, Any]] = {}
    for entry in events:
        if entry.get("agent"):
            last[str(entry["agent"])] = entry
    lines: list[Text] = []
    for a in report.agents:
        bits = []
        if a.state == "LIMITED":
            bits.append(f"limit resets {until(a.reset_at, now) or 'when probed'}")
        if a.state in ("SLEEPING", "WAITING") and a.detail:
            bits.append(a.detail)
        if a.restarts:
            bits.append(f"{a.restarts} restart(s) this window")
        if a.name in last:
            e = last[a.name]
            bits.append(f"last: {e.get('event')} {str(e.get('ts', ''))[11:19]}")
        if bits:
            lines.append(Text(f"  {a.name}: " + " · ".join(bits), style="dim"))
    stamp = Text(f"agentsup status --watch · {_time.strftime('%H:%M:%S')} · Ctrl-C to leave", style="bold")
    return Group(stamp, *status_header(report), status_table(report), *lines)


def status_header(report: StatusReport) -> list[Text]:
    lines = []
    if report.config_error:
        lines.append(Text(f"config invalid (showing its last valid copy): {report.config_error}", style="red"))
    if report.phase is not None:
        p = report.phase
        verdict = "sequence complete" if p.complete else ("DONE" if p.done else "in progress")
        lines.append(Text(f"phase {p.id} [{p.index + 1}/{p.count}] plan={p.plan} ({verdict})"))
    wd = report.watchdog
    if wd.running:
        tick = f", last tick {wd.last_tick} {wd.tick_ms:.1f} ms" if wd.last_tick and wd.tick_ms is not None else ""
        lines.append(Text(f"watchdog running (pid {wd.pid}{tick})", style="green"))
    else:
        lines.append(Text("watchdog not running", style="yellow"))
    for what, why in wd.degraded.items():
        lines.append(Text(f"watchdog degraded ({what}): {why}", style="red"))
    if wd.config_error:
        lines.append(Text(f"config error (last good config in force): {wd.config_error}", style="red"))
    return lines


def print_status(report: StatusReport) -> None:
    for line in status_header(report):
        out.print(line)
    out.print(status_table(report))
