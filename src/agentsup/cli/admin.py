"""Commands about the setup rather than one agent: check, init, doctor, the build loop's phase, the
watchdog itself, notifications, and the tools (detect, sim, demo, schema)."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from agentsup.cli import render
from agentsup.errors import AgentsupError, ConfigError

from .app import Call, ConfigOption, JsonOption, app, done, emit, flag, load


class PhaseAction(StrEnum):
    """What `agentsup phase` does (the only place its choices are named)."""

    SHOW = "show"
    LIST = "list"
    NEXT = "next"
    SET = "set"


class NotifyAction(StrEnum):
    """What `agentsup notify` does."""

    TEST = "test"


@app.command()
def check(ctx: typer.Context, config: ConfigOption = None, json: JsonOption = False) -> None:
    """Validate agents.toml and summarise it (exit 2 when invalid)."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    report = operate.check(load(call))

    def text() -> str:
        lines = [f"ok {report.config}",
                 f"  agents:   {len(report.agents)}  " + ", ".join(
                     f"{a['name']} ({a['kind']}, {a['backend']})" for a in report.agents),
                 f"  services: {len(report.services)}  " + ", ".join(s["name"] for s in report.services),
                 f"  backends: {', '.join(report.backends) or '-'}",
                 f"  phases:   {' '.join(report.phases) or '-'}"]
        lines += [f"  status:   {pid} → {path}" for pid, path in report.status_files.items()]
        lines.append(f"  tmux:     {report.tmux} (socket {report.socket})")
        lines += [f"  override: {k}={v}" for k, v in report.overrides.items()]
        paint = render.Painter(render.colour_on(sys.stdout))
        lines += [paint("warn", "yellow") + f" {w}" for w in report.warnings]
        return "\n".join(lines)

    emit(call, report, text)


@app.command()
def init(ctx: typer.Context,
         directory: Annotated[str, typer.Argument(help="project directory")] = ".",
         config: ConfigOption = None, json: JsonOption = False,
         backend: Annotated[str, typer.Option(help="claude, codex, opencode, gemini or sim")] = "claude",
         force: Annotated[bool, flag("--force", "overwrite files that exist")] = False) -> None:
    """Write a commented agents.toml and prompts/ for a builder/adversary pair."""
    from agentsup.config.scaffold import init as scaffold_init

    written = scaffold_init(Path(directory), backend, force=force)
    emit(Call.of(ctx, config, json), written, lambda: "\n".join(
        [*(f"wrote {w.path}  ({w.what})" for w in written),
         "next: edit plan-p1.md, then `agentsup check` and `agentsup up`"]))


@app.command()
def schema(config: ConfigOption = None,
           fleet: Annotated[bool, flag("--fleet", "the schema of fleet.toml instead")] = False) -> None:
    """Print the JSON Schema of agents.toml (or of fleet.toml)."""
    from agentsup.config.scaffold import schema as json_schema

    if fleet:
        from agentsup.fleet.config import FleetFile

        sys.stdout.write(json_schema(FleetFile, "fleet.toml"))
    else:
        sys.stdout.write(json_schema())


@app.command()
def doctor(ctx: typer.Context, config: ConfigOption = None, json: JsonOption = False) -> None:
    """Preflight for a new server: one line per check, exit 1 on a FAIL."""
    from agentsup.config.files import find_config
    from agentsup.config.load import load_config
    from agentsup.supervisor.operator.doctor import Level, run_checks

    call = Call.of(ctx, config, json)
    path = find_config(call.config)
    try:
        cfg, problem = load_config(path), None
    except ConfigError as exc:
        cfg, problem = None, str(exc)
    checks = run_checks(cfg, path, problem)
    paint = render.Painter(render.colour_on(sys.stdout))
    styles = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}
    emit(call, checks, lambda: "\n".join(f"{paint(c.level.value.ljust(4), styles[c.level])} {c.name}: {c.detail}"
                                         for c in checks))
    done(1 if any(c.level is Level.FAIL for c in checks) else 0)


@app.command()
def watchdog(ctx: typer.Context, config: ConfigOption = None,
             once: Annotated[bool, flag("--once", "run one full tick and exit")] = False,
             dry_run: Annotated[bool, flag("--dry-run", "print decisions, act on nothing")] = False,
             quiet: Annotated[bool, flag("--quiet", "print nothing per event (the journal has them)")] = False,
             ) -> None:
    """The reconcile loop that keeps every agent working (usually via up or systemd)."""
    import time

    from agentsup.config.files import find_config
    from agentsup.supervisor.watch.watchdog import Watchdog

    def show(entry: dict[str, object]) -> None:
        if quiet:
            return
        fields = render.event_fields(entry)
        who = f"{entry['agent']}: " if entry.get("agent") else ""
        prefix = "would: " if dry_run else ""
        render.write(f"[{time.strftime('%H:%M:%S')}] {prefix}{who}{entry['event']} {fields}".rstrip())

    dog = Watchdog(find_config(Call.of(ctx, config).config), dry_run=dry_run, emit=show)
    if once:
        stats = dog.once()
        render.write(f"tick: {stats.wall_ms:.1f} ms, {stats.tmux_calls} tmux calls, {stats.captures} captures, "
                     f"{stats.agents} agents")
    else:
        dog.run()


@app.command()
def detect(ctx: typer.Context,
           source: Annotated[str, typer.Argument(help="screen capture file, or - for stdin")] = "-",
           config: ConfigOption = None,
           backend: Annotated[str, typer.Option(help="backend whose patterns apply")] = "claude",
           now: Annotated[str | None, typer.Option(help="reference time, ISO-8601 (default: now)")] = None,
           tz: Annotated[str | None, typer.Option(help="IANA zone for times that name none")] = None) -> None:
    """Classify a screen capture and print one JSON object."""
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from agentsup.agents.backends import PRESETS, resolve_backend
    from agentsup.agents.detect import classify
    from agentsup.agents.resettime import parse_iso
    from agentsup.supervisor.reconcile.observe import local_zone

    call = Call.of(ctx, config)
    if call.config or os.environ.get("AGENTSUP_CONFIG"):
        backends = dict(load(call).backends)
    else:
        backends = {name: resolve_backend(name, None) for name in PRESETS}
    if backend not in backends:
        raise AgentsupError(f"unknown backend {backend!r}; known: {', '.join(sorted(backends))}")
    try:
        zone = ZoneInfo(tz) if tz else local_zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise AgentsupError(f"--tz: unknown time zone {tz!r} (use an IANA name like Europe/Dublin)") from None
    ref = parse_iso(now, zone) if now else datetime.now(zone)
    if ref is None:
        raise AgentsupError(f"--now: not an ISO-8601 time: {now!r}")
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8", errors="replace")
    render.print_json(classify(text, backends[backend], ref, zone).to_json())


@app.command()
def phase(ctx: typer.Context, action: Annotated[PhaseAction, typer.Argument()] = PhaseAction.SHOW,
          value: Annotated[str | None, typer.Argument(help="for set: a 0-based index or a phase id",
                                                      show_default=False)] = None,
          config: ConfigOption = None, json: JsonOption = False,
          restart: Annotated[bool, flag("--restart", "restart the loop agents on the new phase")] = False) -> None:
    """Inspect or move the build loop's phase."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    report = operate.phase(load(call), action.value, value, restart=restart)

    def text() -> str:
        lines = []
        if report.restarted is not None:
            lines.append(render.action_lines(report.restarted.results))
        if action is PhaseAction.LIST:
            lines += [f"{'>' if r['current'] else ' '} {r['index']}  {r['id']:<12} {r['plan']:<24} {r['status']}"
                      f"{'  (DONE)' if r['done'] else ''}" for r in report.phases]
        else:
            lines.append(f"phase {report.id} [{report.index + 1}/{len(report.phases)}] sequence: "
                         + " ".join(r["id"] for r in report.phases))
            if report.moved and report.restarted is None:
                lines.append("loop agents get the new kickoff when they next start (add --restart to restart "
                             "them now)")
        return "\n".join(lines)

    emit(call, report, text)


@app.command()
def notify(ctx: typer.Context, action: Annotated[NotifyAction, typer.Argument()],
           config: ConfigOption = None, json: JsonOption = False) -> None:
    """Notifications: `notify test` sends a test event to every channel."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    results = operate.notify_test(load(call))
    emit(call, results, lambda: "\n".join(
        f"sent    {r.channel} (attempt {r.attempts})" if r.ok else
        f"FAILED  {r.channel} after {r.attempts} attempt(s): {r.error}" for r in results))
    done(0 if all(r.ok for r in results) else 1)


@app.command(add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sim(ctx: typer.Context) -> None:
    """The simulated agent TUI (`agentsup sim --help` lists its flags)."""
    from agentsup.sim.agent import main as sim_main

    done(sim_main(list(ctx.args)))


@app.command()
def demo(duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")
                             ] = None,
         keep: Annotated[bool, flag("--keep", "keep the scratch directory")] = False) -> None:
    """Three sim agents and a watchdog on a private tmux socket; Ctrl-C cleans up."""
    from agentsup.cli.demo import run_demo

    run_demo(duration=duration, keep=keep)


@app.command("config-reference", hidden=True)
def config_reference(write: Annotated[str | None, typer.Option(
        help="replace the reference block in this Markdown file")] = None) -> None:
    """The Markdown reference of every agents.toml key."""
    from agentsup.config.reference import embed, markdown

    if write is None:
        sys.stdout.write(markdown())
    else:
        path = Path(write)
        path.write_text(embed(path.read_text(encoding="utf-8")), encoding="utf-8")
