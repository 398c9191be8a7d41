"""Turn result objects into human text or stable JSON. Only the CLI (and the live view) call this.

Plain text, coloured with rich's styles on a terminal (none in a pipe or under NO_COLOR). The
columns are laid out here: a few dozen lines, where rich's table and console would cost `status`
more time than it otherwise takes. Names and state words are never cut; a narrow terminal drops the
kind, model and watch columns, and on a narrow terminal or in a pipe an agent's detail goes on a
line of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from agentsup.supervisor.operator.accounting import AgentUsage, UsageReport
    from agentsup.supervisor.operator.status import StatusReport

STATE_STYLES = {
    "RUNNING": "green", "STARTING": "cyan", "STOPPED": "dim", "EXITED": "yellow", "STALLED": "yellow",
    "BACKOFF": "yellow", "FATAL": "bold red", "LIMITED": "magenta", "WAITING": "cyan", "SLEEPING": "blue",
    "DONE": "green", "FAILED": "red", "CANCELLED": "dim", "PENDING": "dim",
}
ACTION_STYLES = {"started": "green", "restarted": "yellow", "stopped": "yellow", "already-running": "dim",
                 "not-running": "dim", "queued": "cyan", "failed": "red"}


def colour_on(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def width_of(stream: TextIO) -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 80


class Painter:
    """Colours text for a terminal with rich's styles (imported only then), or leaves it plain."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str | None) -> str:
        if not (self.colour and style and text):
            return text
        from rich.color import ColorSystem
        from rich.style import Style

        return Style.parse(style).render(text, color_system=ColorSystem.STANDARD)


def write(text: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


def error(message: str) -> None:
    write(Painter(colour_on(sys.stderr))("error:", "red") + " " + message, sys.stderr)


def warn(message: str) -> None:
    write(Painter(colour_on(sys.stderr))("warn", "yellow") + " " + message, sys.stderr)


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return to_jsonable(value.to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):  # StrEnum
        return value.value
    return value


def print_json(value: Any) -> None:
    write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


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


def until(iso: str | None, now: float) -> str:
    """'in 1h23m' for a time still ahead, '' otherwise."""
    if not iso:
        return ""
    try:
        left = datetime.fromisoformat(iso).timestamp() - now
    except ValueError:
        return ""
    return f"in {duration(left)}" if left > 0 else "now"


def action_lines(results: Sequence[Any], paint: Painter | None = None) -> str:
    paint = paint or Painter(colour_on(sys.stdout))
    lines = []
    for r in results:
        line = paint(f"{r.action:<16}", ACTION_STYLES.get(r.action)) + f"{r.name}  ({r.session})"
        if r.detail:
            line += paint(f"  {r.detail}", "dim")
        if r.typed_prompt is not None:
            line += paint(f"  kickoff {r.typed_prompt.result.value}", "green" if r.typed_prompt.ok else "red")
        lines.append(line)
    return "\n".join(lines)


def verb_lines(verb: str, results: Sequence[Any]) -> str:
    """`restart a: restart-requested (handed to the running watchdog)`: one line per result."""
    return "\n".join(f"{verb} {r.name}: {r.action}" + (f" ({r.detail})" if r.detail else "") for r in results)


def event_fields(entry: dict[str, Any]) -> str:
    """A journal entry's own fields as `key=value` words (its time, name and agent are shown apart)."""
    return " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("ts", "event", "agent"))


# ── status ──────────────────────────────────────────────────────────────────────────────────


def status_header(report: StatusReport, paint: Painter) -> list[str]:
    lines = []
    if report.config_error:
        lines.append(paint(f"config invalid (showing its last valid copy): {report.config_error}", "red"))
    if report.tmux_error:
        lines.append(paint(f"tmux did not answer ({report.tmux_error}): states are the watchdog's last known",
                           "red"))
    if report.phase is not None:
        p = report.phase
        verdict = "sequence complete" if p.complete else ("DONE" if p.done else "in progress")
        lines.append(f"phase {p.id} [{p.index + 1}/{p.count}] plan={p.plan} ({verdict})")
    wd = report.watchdog
    if wd.running:
        tick = f", last tick {wd.last_tick} {wd.tick_ms:.1f} ms" if wd.last_tick and wd.tick_ms is not None else ""
        lines.append(paint(f"watchdog running (pid {wd.pid}{tick})", "green"))
    else:
        lines.append(paint("watchdog not running", "yellow"))
    for what, why in wd.degraded.items():
        lines.append(paint(f"watchdog degraded ({what}): {why}", "red"))
    if wd.config_error:
        lines.append(paint(f"config error (last good config in force): {wd.config_error}", "red"))
    return lines


def _details(report: StatusReport) -> list[tuple[str, str, str, str, str, str, str, str, str]]:
    """One tuple per row: name, kind, backend, model, watch, state, pid, uptime, detail."""
    rows = []
    for a in report.agents:
        extra = a.detail
        if a.exit_code is not None and a.state in ("EXITED", "FATAL", "FAILED", "DONE"):
            extra = f"{extra} · exit {a.exit_code}".strip(" ·")
        if a.reset_at:
            extra = f"{extra} · until {a.reset_at}".strip(" ·")
        rows.append((a.name, a.kind, a.backend, a.model, a.watch, a.state, str(a.pid) if a.pid else "-",
                     duration(a.uptime_s), extra))
    for s in report.services:
        extra = f"exit {s.exit_code}" if s.exit_code is not None and s.state == "EXITED" else ""
        rows.append((s.name, "service", "-", "-", "-", s.state, str(s.pid) if s.pid else "-",
                     duration(s.uptime_s), extra))
    return rows


def status_table(report: StatusReport, *, width: int, paint: Painter, apart: bool, wrap: bool = True) -> list[str]:
    """The table's lines. Details sit beside the state when the row still fits the width, else
    (and always when `apart`: a pipe, a narrow terminal) on a line of their own, wrapped to the
    width on a terminal, whole in a pipe (a line a program can grep)."""
    heads = ["AGENT", "KIND", "BACKEND", "MODEL", "WATCH", "STATE", "PID", "UPTIME"]
    keep = [0, 1, 2, 3, 4, 5, 6, 7] if width >= 80 else [0, 2, 5, 6, 7]
    rows = _details(report)
    state_at = keep.index(5)

    def layout(inline: bool) -> tuple[list[int], list[str]]:
        states = [f"{r[5]} ({r[8]})" if inline and r[8] else r[5] for r in rows]
        widths = [max([len(heads[i]), *(len(states[k] if i == 5 else r[i]) for k, r in enumerate(rows))])
                  for i in keep]
        widths[state_at] = max(widths[state_at], 9)  # the longest state word: CANCELLED
        return widths, states

    widths, states = layout(inline=not apart)
    if not apart and sum(widths) + 2 * (len(widths) - 1) > width:
        apart = True
        widths, states = layout(inline=False)
    offset = sum(w + 2 for w in widths[:state_at])
    lines = ["  ".join(paint(heads[i].ljust(w), "bold") for i, w in zip(keep, widths, strict=True)).rstrip()]
    for k, row in enumerate(rows):
        cells = []
        for n, i in enumerate(keep):
            if i == 5:
                word, rest = row[5], states[k][len(row[5]):]
                cells.append(paint(word, STATE_STYLES.get(word)) + paint(rest, "dim")
                             + " " * (widths[n] - len(states[k])))
            else:
                cells.append(row[i].ljust(widths[n]))
        lines.append("  ".join(cells).rstrip())
        if apart and row[8]:
            indent = offset if width - offset >= 30 else 2
            chunks = textwrap.wrap(row[8], max(20, width - indent), break_on_hyphens=False) if wrap else [row[8]]
            lines += [" " * indent + paint(chunk, "dim") for chunk in chunks]
    return lines


def status_text(report: StatusReport, stream: TextIO | None = None) -> str:
    stream = stream or sys.stdout
    width, paint = width_of(stream), Painter(colour_on(stream))
    apart = not stream.isatty() or width < 100
    trees = [paint(f"worktree {a.name}: {a.worktree} ({a.branch})", "dim") for a in report.agents if a.worktree]
    table = status_table(report, width=width, paint=paint, apart=apart, wrap=stream.isatty())
    return "\n".join([*status_header(report, paint), *table, *trees])


def usage_bits(u: AgentUsage) -> str:
    bits = [f"{u.turns} turns", f"{count(u.input_tokens)} in", f"{count(u.output_tokens)} out"]
    if u.cost_usd is not None:
        bits.append(f"${u.cost_usd:.2f}")
    if u.window_used_pct is not None:
        bits.append(window_text(u))
    return " · ".join(bits)


def live_frame(report: StatusReport, events: list[dict[str, Any]], *, width: int, colour: bool,
               usage: UsageReport | None = None) -> str:
    """What `status --watch` shows each second: a header, the table, each agent's countdowns,
    question and last event, and the usage of each agent when known."""
    paint = Painter(colour)
    now = time.time()
    last: dict[str, dict[str, Any]] = {}
    for entry in events:
        if entry.get("agent"):
            last[str(entry["agent"])] = entry
    lines = [paint(f"agentsup status --watch · {time.strftime('%H:%M:%S')} · Ctrl-C to leave", "bold"),
             *status_header(report, paint), *status_table(report, width=width, paint=paint, apart=width < 100)]
    for a in report.agents:
        bits = []
        if a.state == "LIMITED":
            bits.append(f"limit resets {until(a.reset_at, now) or 'when probed'}")
        if a.state in ("SLEEPING", "WAITING") and a.detail:
            bits.append(a.detail)
        if a.limits:  # claude's rate-limit windows: how much of each is used
            bits.append(" ".join(f"{w['window']} {w['used_pct']:.0f}%" for w in a.limits))
        if a.restarts:
            bits.append(f"{a.restarts} restart(s) this window")
        if a.name in last:
            e = last[a.name]
            bits.append(f"last: {e.get('event')} {str(e.get('ts', ''))[11:19]}")
        if bits:
            lines.append(paint(f"  {a.name}: " + " · ".join(bits), "dim"))
    for u in usage.agents if usage is not None else []:
        if u.note:
            continue  # nothing counted: the live view shows usage only where there is some
        lines.append(paint(f"  {u.agent}: {usage_bits(u)}", "dim"))
    return "\n".join(lines)


# ── usage ───────────────────────────────────────────────────────────────────────────────────


def count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def window_text(u: AgentUsage) -> str:
    if u.window_used_pct is None:
        return ""
    clock = (u.window_resets_at or "")[11:16]
    out = f"5h window {u.window_used_pct:.0f}% (resets {clock} UTC"
    runs_out = u.window_runs_out_at
    return out + (f"; runs out {runs_out[11:16]} UTC at this rate)" if runs_out else "; lasts until then)")


def other_windows_text(u: AgentUsage) -> str:
    """The windows beside the five-hour one (the week, the week per model), as `usage` shows them."""
    bits = []
    for w in u.windows:
        if w["window"] == "5h":
            continue
        when = datetime.fromisoformat(w["resets_at"]).strftime("%a %H:%M") if w.get("resets_at") else "?"
        spent = "spent: " if w["used_pct"] >= 100 else ""
        bits.append(f"{w['window']} window {w['used_pct']:.0f}% ({spent}resets {when} UTC)")
    return " · ".join(bits)


def usage_text(report: UsageReport) -> str:
    heads = ["AGENT", "BACKEND", "TURNS", "INPUT", "OUTPUT", "CACHE-R", "CACHE-W", "COST"]
    rows = [[u.agent, u.backend, str(u.turns), count(u.input_tokens), count(u.output_tokens),
             count(u.cache_read_tokens), count(u.cache_write_tokens),
             f"${u.cost_usd:.2f}" if u.cost_usd is not None else "-"] if not u.note
            else [u.agent, u.backend, "-", "-", "-", "-", "-", "-"] for u in report.agents]
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    lines = [f"since {report.since}" if report.since else "all recorded use"]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in [heads, *rows]]
    for u in report.agents:
        extra = [u.note] if u.note else []
        extra += [window_text(u)] if u.window_used_pct is not None else []
        extra += [others] if (others := other_windows_text(u)) else []
        if u.reported_cost_usd is not None:
            extra.append(f"claude's own figure for its current run ${u.reported_cost_usd:.2f}")
        if extra:
            lines.append(f"  {u.agent}: " + " · ".join(extra))
    if not report.agents:
        lines.append("no agents in the config")
    return "\n".join(lines)
