"""Fleet results as text: one table with a HOST column, a host that did not answer as one row that
says why, and each host's watchdog and last notification failure under it."""

from __future__ import annotations

import sys
from typing import Any

from agentsup.cli.render import STATE_STYLES, Painter, colour_on, duration
from agentsup.fleet.ops import FleetStatus, HostCheck, HostReply


def _paint() -> Painter:
    return Painter(colour_on(sys.stdout))


def status_text(report: FleetStatus) -> str:
    paint = _paint()
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for host in report.hosts:
        if host.error:
            rows.append((host.host, host.error))
            continue
        data: dict[str, Any] = host.data
        for a in [*data.get("agents", []), *({**s, "kind": "service"} for s in data.get("services", []))]:
            detail = str(a.get("detail") or "")
            if a.get("reset_at"):
                detail = f"{detail} · until {a['reset_at']}".strip(" ·")
            rows.append((host.host, str(a.get("name")), str(a.get("kind", "")), str(a.get("state")),
                         str(a.get("pid") or "-"), duration(a.get("uptime_s")), detail))
        wd = data.get("watchdog") or {}
        line = f"{host.host}: watchdog " + (f"running (pid {wd.get('pid')})" if wd.get("running") else "not running")
        if wd.get("degraded"):
            line += " · degraded: " + "; ".join(f"{k}: {v}" for k, v in wd["degraded"].items())
        if wd.get("notify_error"):
            line += f" · last notification failure: {wd['notify_error']}"
        if data.get("config_error"):
            line += f" · config error (last good config in force): {data['config_error']}"
        notes.append(line)
    full = [r for r in rows if len(r) == 7]
    heads = ("HOST", "AGENT", "KIND", "STATE", "PID", "UPTIME")
    widths = [max([len(h), *(len(r[i]) for r in full)]) for i, h in enumerate(heads)]
    host_width = max([widths[0], *(len(r[0]) for r in rows)])
    widths[0] = host_width
    lines = ["  ".join(paint(h.ljust(w), "bold") for h, w in zip(heads, widths, strict=True)).rstrip() + "  DETAIL"]
    for row in rows:
        if len(row) == 2:
            lines.append(row[0].ljust(host_width) + "  " + paint(row[1], "red"))
            continue
        cells = [row[i].ljust(widths[i]) if i != 3 else paint(row[3], STATE_STYLES.get(row[3])) +
                 " " * (widths[3] - len(row[3])) for i in range(6)]
        lines.append(("  ".join(cells) + "  " + paint(row[6], "dim")).rstrip())
    return "\n".join([*lines, "", *notes])


def replies_text(replies: list[HostReply], verb: str) -> str:
    """What each host did: one line per agent (its action or result), or one line for a host
    that could not do it."""
    paint = _paint()
    lines = []
    for reply in replies:
        if reply.error:
            lines.append(f"{reply.host}  " + paint(f"{verb} failed: {reply.error}", "red"))
            continue
        for row in _rows(reply.data):
            what = str(row.get("action") or row.get("result") or row.get("detail") or "")
            good = what not in ("failed", "start-failed", "stranded", "no-session", "error")
            name = str(row.get("name") or row.get("agent") or "")
            detail = str(row.get("detail") or "") if row.get("detail") != what else ""
            lines.append(f"{reply.host}  {name}  " + paint(what, "green" if good else "red")
                         + (f"  {detail}" if detail else ""))
    return "\n".join(lines)


def _rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        results = data.get("results")
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [data]
    return []


def doctor_text(checks: list[HostCheck]) -> str:
    paint = _paint()
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    width = max([len(c.host) for c in checks] or [4])
    return "\n".join(f"{c.host.ljust(width)}  {paint(c.level.ljust(4), styles.get(c.level))} {c.name}: {c.detail}"
                     for c in checks)
