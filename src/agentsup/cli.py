"""The `agentsup` command line: parse arguments, call the core, render the result."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live

from . import control, render
from .config import Config, find_config, load_config
from .errors import AgentsupError, ConfigError
from .render import err, out

app = typer.Typer(
    no_args_is_help=True, add_completion=True, rich_markup_mode=None,
    help="Keep long-running AI coding agents working in tmux, driven by agents.toml.",
)

ConfigOpt = Annotated[
    str | None, typer.Option("-c", "--config",
                              help="agents.toml (else $AGENTSUP_CONFIG, the nearest agents.toml up the tree)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@dataclass
class Context:
    config: str | None = None
    config_error: str | None = None  # set when a read/stop command runs from the last valid copy

    def load(self, *, apply_overrides: bool = True, last_good: bool = False) -> Config:
        """The config; for commands that read or stop (`last_good`), a config that stopped validating
        falls back to its last valid copy, so the operator can still see and stop everything."""
        from .config import load_last_good, remember_good

        path = find_config(self.config)
        try:
            cfg = load_config(path, apply_overrides=apply_overrides)
        except ConfigError as exc:
            fallback = load_last_good(path, apply_overrides=apply_overrides) if last_good else None
            if fallback is None:
                raise
            self.config_error = str(exc)
            err.print(f"[yellow]warn[/yellow] {path} is invalid; using its last valid copy "
                      "(`agentsup check` shows the error)", highlight=False)
            return fallback
        remember_good(cfg.path)
        return cfg

    def runtime(self, *, last_good: bool = False) -> control.Runtime:
        return control.make_runtime(self.load(last_good=last_good))


def _version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"agentsup {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context, config: ConfigOpt = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    ctx.obj = Context(config)


def _journal(cfg: Config, event: str, agent: str | None = None, **fields: object) -> None:
    """Every manual action leaves a line in the journal, marked as the operator's."""
    from .journal import Journal

    Journal(cfg.log_dir / "events.jsonl", cfg.watchdog.journal_max_bytes).write(event, agent, by="cli", **fields)


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.obj
    assert isinstance(obj, Context)
    return obj


@app.command()
def up(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="agents/services to start (default: all enabled)")] = None,
    no_watchdog: Annotated[bool, typer.Option("--no-watchdog", help="do not start the watchdog")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Start enabled agents, services and the watchdog that are not running; leave running ones alone."""
    from .marks import mark_stopped, send_request
    from .tmux import tmux_version

    rt = _ctx(ctx).runtime()
    tmux_version(rt.cfg.tmux.bin)
    control.check_names(rt.cfg, names or [])
    for name in names or []:  # the operator wins over old records: FATAL, BACKOFF and the budget go
        if name in rt.cfg.agents and rt.cfg.agents[name].kind != "task":
            send_request(rt.cfg, "reset", name)
    for warning in control.launch_warnings(rt.cfg):  # said before the start fails, not after
        if not names or warning.split(":")[0].removeprefix("agent ") in names:
            err.print(f"[yellow]warn[/yellow] {warning}", highlight=False)
    results = control.up(rt, names or [], with_watchdog=not no_watchdog)
    # Cleared after starting: a watchdog never sees an unmarked, not-yet-started agent to race us.
    mark_stopped(rt.state, names or [*rt.cfg.agents, *rt.cfg.services], stopped=False)

    tasks = [a for a in rt.cfg.agents.values() if a.kind == "task" and (a.name in (names or []) or
                                                                        (not names and a.enabled))]
    for task in tasks:  # tasks run once, in dependency order, started by the watchdog
        send_request(rt.cfg, "queue", task.name)
        results.append(control.ActionResult(task.name, task.session, "queued",
                                            detail=f"after {', '.join(task.after)}" if task.after else ""))
    for r in results:
        _journal(rt.cfg, "up", r.name if r.name in rt.cfg.agents else None, target=r.name, result=r.action)
    if json_out:
        render.print_json(results)
    else:
        render.action_lines(results)


@app.command()
def down(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="agents/services to stop (default: all)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop agents and services (all of them, and the watchdog, when none are named). The watchdog
    leaves what you stopped alone until you `up` it again."""
    from .marks import mark_stopped

    rt = _ctx(ctx).runtime(last_good=True)
    control.check_names(rt.cfg, names or [])
    mark_stopped(rt.state, [n for n in names or [*rt.cfg.agents, *rt.cfg.services] if n != "watchdog"],
                 stopped=True)
    results = control.down(rt, names or [])
    for r in results:
        _journal(rt.cfg, "down", r.name if r.name in rt.cfg.agents else None, target=r.name, result=r.action)
    if json_out:
        render.print_json(results)
    else:
        render.action_lines(results)


@app.command()
def status(
    ctx: typer.Context, json_out: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="a live view, refreshed every second")] = False,
) -> None:
    """One table: every agent and service with its state, pid and uptime."""
    from dataclasses import replace

    from .status import collect

    context = _ctx(ctx)
    rt = context.runtime(last_good=True)
    if watch:
        _watch(rt)
        return
    report = collect(rt)
    if context.config_error:
        report = replace(report, config_error=context.config_error)
    if json_out:
        render.print_json(report.to_json())
    else:
        render.print_status(report)


def _watch(rt: control.Runtime) -> None:
    """The live view: it reads, it never changes anything. Ctrl-C ends it."""
    from rich.console import Group

    from .journal import tail_events
    from .status import collect

    journal = rt.cfg.log_dir / "events.jsonl"

    def frame() -> Group:
        return render.live_view(collect(rt), tail_events(journal))

    try:
        with Live(frame(), console=out, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(1)
                live.update(frame())
    except KeyboardInterrupt:
        pass


@app.command()
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Validate agents.toml and summarise it. Exit code 2 when it is invalid."""
    from .phases import named_status_path
    from .tmux import tmux_version

    cfg = _ctx(ctx).load()
    summary = {
        "config": str(cfg.path),
        "tmux": tmux_version(cfg.tmux.bin),
        "socket": cfg.socket(),
        "agents": [{"name": a.name, "kind": a.kind, "backend": a.backend, "model": a.model or "default",
                    "watch": a.watch, "enabled": a.enabled, "session": a.session} for a in cfg.agents.values()],
        "services": [{"name": s.name, "session": s.session, "argv": list(s.argv)} for s in cfg.services.values()],
        "backends": sorted({a.backend for a in cfg.agents.values()}),
        "phases": [p.id for p in cfg.loop.phases],
        "status_files": {p.id: str(named_status_path(cfg, p.status)) for p in cfg.loop.phases},
        "overrides": dict(cfg.overrides),
        "warnings": control.launch_warnings(cfg),
    }
    if json_out:
        render.print_json(summary)
        return
    out.print(f"[green]ok[/green] {cfg.path}")
    out.print(f"  agents:   {len(cfg.agents)}  " + ", ".join(
        f"{a.name} ({a.kind}, {a.backend})" for a in cfg.agents.values()))
    out.print(f"  services: {len(cfg.services)}  " + ", ".join(cfg.services))
    out.print(f"  backends: {', '.join(summary['backends']) or '-'}")  # type: ignore[arg-type]
    out.print(f"  phases:   {' '.join(summary['phases']) or '-'}")  # type: ignore[arg-type]
    for p in cfg.loop.phases:  # the files the kickoff names and the watchdog watches
        out.print(f"  status:   {p.id} → {named_status_path(cfg, p.status)}", markup=False)
    out.print(f"  tmux:     {summary['tmux']} (socket {summary['socket']})")
    for key, value in cfg.overrides.items():
        out.print(f"  override: {key}={value}")
    for warning in summary["warnings"]:
        out.print(f"[yellow]warn[/yellow] {warning}", highlight=False)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="project directory")] = Path("."),
    backend: Annotated[str, typer.Option("--backend", help="claude, codex, opencode, gemini or sim")] = "claude",
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a commented agents.toml, prompts/ and a first plan for a builder/adversary pair."""
    from .scaffold import init as scaffold

    written = scaffold(directory, backend, force=force)
    if json_out:
        render.print_json(written)
        return
    for w in written:
        out.print(f"wrote {w.path}  ({w.what})", markup=False)
    out.print("next: edit plan-p1.md, then `agentsup check` and `agentsup up`", markup=False)


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of agents.toml (for editors: see README)."""
    from .scaffold import schema

    sys.stdout.write(schema())


@app.command()
def doctor(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Preflight for a new server: config, tmux, agent binaries, root, directory modes, shared working
    directories, the watchdog, systemd. One line per check; exit 1 when one FAILs."""
    from .doctor import Level, run_checks

    path = find_config(_ctx(ctx).config)
    try:
        cfg, error = load_config(path), None
    except ConfigError as exc:
        cfg, error = None, str(exc)
    checks = run_checks(cfg, path, error)
    if json_out:
        render.print_json(checks)
    else:
        styles = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}
        for c in checks:
            out.print(f"[{styles[c.level]}]{c.level.value:<4}[/] {c.name}: ", end="", highlight=False)
            out.print(c.detail, markup=False, highlight=False)
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(1)


notify_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Notifications ([notify]).")
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Send a test event to the [notify] command and webhook now; exit 1 when one fails."""
    from .notify import Notice, send

    cfg = _ctx(ctx).load()
    if not (cfg.notify.command or cfg.notify.webhook):
        raise ConfigError(f"{cfg.path}: [notify] has neither a command nor a webhook")
    notice = Notice("test", detail="a test notification from `agentsup notify test`",
                    ts=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    results = send(cfg.notify, notice, lambda event, agent=None, **f: _journal(cfg, event, agent, **f))
    if json_out:
        render.print_json(results)
    else:
        for r in results:
            line = f"sent    {r.channel} (attempt {r.attempts})" if r.ok else \
                f"FAILED  {r.channel} after {r.attempts} attempt(s): {r.error}"
            out.print(line, markup=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def logs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="agent, service or 'watchdog'")],
    follow_: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new output")] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", help="lines to show")] = 50,
) -> None:
    """Show an agent's session log (ANSI-stripped output captured from its pane)."""
    from .logs import follow, tail_lines

    cfg = _ctx(ctx).load(last_good=True)
    path = control.log_path(cfg, control.session_of(cfg, name))
    if not path.exists() and not follow_:
        raise AgentsupError(f"no log yet for {name!r} ({path})")
    for line in tail_lines(path, lines):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if follow_:
        try:
            for chunk in follow(path):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass


@app.command()
def attach(ctx: typer.Context, name: Annotated[str, typer.Argument(help="agent or service")]) -> None:
    """Attach your terminal to an agent's tmux session (detach with the tmux prefix, then d)."""
    rt = _ctx(ctx).runtime(last_good=True)
    session = control.session_of(rt.cfg, name)
    if rt.tmux.pane(session) is None:
        raise AgentsupError(f"{name} is not running (session {session!r}); start it with `agentsup up {name}`")
    argv = rt.tmux.attach_argv(session)
    os.environ.pop("TMUX", None)
    os.execvp(argv[0], argv)


@app.command()
def ping(
    ctx: typer.Context,
    targets: Annotated[list[str], typer.Argument(help="agent names, then the message (with --all: the message)")],
    to_all: Annotated[bool, typer.Option("--all", help="every enabled agent that runs")] = False,
    now: Annotated[bool, typer.Option("--now", help="type it even into an agent held by a usage limit")] = False,
    force: Annotated[bool, typer.Option("--force", help="clear a draft left in the input box first")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Type MESSAGE into agents and submit it, verified. An agent held by a usage limit gets it
    queued (delivered once, after the limit lifts) unless --now. Exit 1 when one could not be sent."""
    from .marks import send_request
    from .status import record_of

    rt = _ctx(ctx).runtime(last_good=True)
    if len(targets) < (1 if to_all else 2):
        raise ConfigError("usage: agentsup ping NAME... MESSAGE  (or: agentsup ping --all MESSAGE)")
    *names, message = targets
    if to_all:
        names = [a.name for a in rt.cfg.agents.values() if a.enabled and a.kind != "task"]
    for name in names:
        if name not in rt.cfg.agents:
            raise control.unknown_name(rt.cfg, name)
    rows = []
    for name in names:
        agent = rt.cfg.agents[name]
        if not now and record_of(rt, name).get("state") == "LIMITED":
            how = send_request(rt.cfg, "ping", name, payload=message)
            rows.append({"agent": name, "result": "queued", "attempts": 0,
                         "detail": "held by a usage limit: delivered once it lifts" + (
                             " (handed to the watchdog)" if how == "requested" else "")})
            _journal(rt.cfg, "ping-queued", name, text=message[:200])
            continue
        result = control.deliver(rt, agent, message, force=force)
        _journal(rt.cfg, f"ping-{result.result.value}", name, attempts=result.attempts, text=message[:200])
        rows.append({"agent": name, "result": result.result.value, "attempts": result.attempts,
                     "detail": result.detail})
    if json_out:
        render.print_json(rows[0] if len(rows) == 1 and not to_all else rows)
    else:
        for row in rows:
            style = "green" if row["result"] in ("delivered", "queued") else "red"
            out.print(f"[{style}]{row['result']}[/{style}] {row['agent']}: {row['detail']}")
    if any(row["result"] not in ("delivered", "queued") for row in rows):
        raise typer.Exit(1)


@app.command()
def watchdog(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="run one full tick and exit")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print decisions, act on nothing")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="print nothing per event (the journal has them)")] = False,
) -> None:
    """Run the reconcile loop that keeps every declared agent working (usually via `up` or systemd)."""
    from .watchdog import Watchdog

    def emit(entry: dict[str, object]) -> None:
        if quiet:
            return
        fields = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("ts", "event", "agent"))
        who = f"{entry['agent']}: " if entry.get("agent") else ""
        prefix = "would: " if dry_run else ""
        out.print(f"[{time.strftime('%H:%M:%S')}] {prefix}{who}{entry['event']} {fields}".rstrip(), markup=False)

    path = find_config(_ctx(ctx).config)
    dog = Watchdog(path, dry_run=dry_run, emit=emit)
    if once:
        stats = dog.once()
        out.print(f"tick: {stats.wall_ms:.1f} ms, {stats.tmux_calls} tmux calls, {stats.captures} captures, "
                  f"{stats.agents} agents", markup=False)
    else:
        dog.run()


@app.command()
def detect(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="screen capture file, or - for stdin")] = "-",
    backend: Annotated[str, typer.Option("--backend", help="backend whose patterns apply")] = "claude",
    now: Annotated[str | None, typer.Option("--now", help="reference time, ISO-8601 (default: now)")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA zone for times that name none")] = None,
    config: Annotated[str | None, typer.Option("-c", "--config", help="use this config's backends")] = None,
) -> None:
    """Classify a screen capture and print one JSON object (debug your patterns)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .backends import PRESETS, resolve_backend
    from .detect import classify
    from .reconcile import local_zone
    from .resettime import parse_iso

    explicit = config or _ctx(ctx).config or os.environ.get("AGENTSUP_CONFIG")
    if explicit:
        backends = dict(load_config(explicit).backends)
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
def events(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", help="only this agent's events")] = None,
    follow_: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new events")] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", help="events to show")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Show the watchdog's journal: every start, restart, hold, nudge, ping and error."""
    from .journal import follow_events, read_events

    cfg = _ctx(ctx).load(last_good=True)
    if agent is not None:
        control.session_of(cfg, agent)  # validates the name
    path = cfg.log_dir / "events.jsonl"

    def show(entry: dict[str, object]) -> None:
        if json_out:
            sys.stdout.write(json.dumps(entry) + "\n")
            sys.stdout.flush()
            return
        fields = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("ts", "event", "agent"))
        out.print(f"{entry.get('ts', '')}  {entry.get('agent', '-'):<14} {entry.get('event')}  {fields}",
                  markup=False)

    for entry in read_events(path, agent=agent, limit=lines):
        show(entry)
    if follow_:
        try:
            for entry in follow_events(path, agent=agent):
                show(entry)
        except KeyboardInterrupt:
            pass


@app.command()
def reset(ctx: typer.Context, name: Annotated[str, typer.Argument(help="agent to revive")]) -> None:
    """Clear an agent's FATAL state and restart budget; the watchdog restarts it at once."""
    from .marks import send_request

    cfg = _ctx(ctx).load()
    if name not in cfg.agents:
        raise control.unknown_name(cfg, name)
    if send_request(cfg, "reset", name) == "requested":
        out.print(f"reset {name}: handed to the running watchdog (it acts within a second)")
    else:
        out.print(f"reset {name}: cleared (no watchdog running; start it with `agentsup up`)")


@app.command()
def restart(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="agents to restart")],
) -> None:
    """Stop each agent's whole process tree and start it again (it counts in the restart budget)."""
    from .marks import mark_stopped, send_request

    cfg = _ctx(ctx).load()
    for name in names:
        if name not in cfg.agents:
            raise control.unknown_name(cfg, name)
        if cfg.agents[name].kind == "task":
            raise AgentsupError(f"{name} is a task; use `agentsup run {name}`")
    mark_stopped(control.make_runtime(cfg).state, names, stopped=False)  # a restart also undoes a down
    for name in names:
        how = send_request(cfg, "restart", name)
        out.print(f"restart {name}: " + ("handed to the running watchdog" if how == "requested" else "restarted"),
                  markup=False)


@app.command()
def run(ctx: typer.Context, task: Annotated[str, typer.Argument(help="task agent to start now")]) -> None:
    """Start a task agent by hand, now (its `after` dependencies are not waited for)."""
    from .journal import read_events
    from .marks import send_request

    cfg = _ctx(ctx).load()
    if task not in cfg.agents:
        raise control.unknown_name(cfg, task)
    if cfg.agents[task].kind != "task":
        raise AgentsupError(f"{task} is a {cfg.agents[task].kind} agent, not a task; use `agentsup up {task}`")
    how = send_request(cfg, "start", task)
    if how == "requested":
        out.print(f"run {task}: handed to the running watchdog")
        return
    last = read_events(cfg.log_dir / "events.jsonl", agent=task, limit=1)
    if last and last[0]["event"] == "task-failed":
        raise AgentsupError(f"{task} could not start: {last[0].get('error')}")
    out.print(f"run {task}: started (session {cfg.agents[task].session})")


@app.command()
def phase(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="show | list | next | set")] = "show",
    value: Annotated[str | None, typer.Argument(help="for set: a 0-based index or a phase id")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="restart the loop agents on the new phase")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Inspect or move the build loop's phase."""
    from .phases import current_index, phase_done, resolve_index, set_index

    cfg = _ctx(ctx).load()
    phases = cfg.loop.phases
    if not phases:
        raise ConfigError(f"{cfg.path}: no [loop].phases are declared")
    if action == "next":
        index = current_index(cfg) + 1
        if index >= len(phases):
            raise ConfigError(f"already at the last phase ({phases[-1].id}); `agentsup phase set N` to go back")
        set_index(cfg, index)
    elif action == "set":
        if value is None:
            raise ConfigError("usage: agentsup phase set N|ID")
        set_index(cfg, resolve_index(cfg, value))
    elif action not in ("show", "list"):
        raise ConfigError(f"unknown phase action {action!r}: use show, list, next or set")
    index = current_index(cfg)
    rows = [{"index": i, "id": p.id, "plan": p.plan, "status": p.status, "current": i == index,
             "done": phase_done(cfg, p)} for i, p in enumerate(phases)]
    if action in ("next", "set") and restart:
        from .marks import mark_stopped

        rt = control.make_runtime(cfg)
        loops = [a for a in cfg.agents.values() if a.kind == "loop" and a.enabled]
        mark_stopped(rt.state, [a.name for a in loops], stopped=False)
        render.action_lines([control.start_agent(rt, a, force=True) for a in loops])
    if json_out:
        render.print_json({"index": index, "id": phases[index].id, "phases": rows})
    elif action == "list":
        for r in rows:
            mark = ">" if r["current"] else " "
            out.print(f"{mark} {r['index']}  {r['id']:<12} {r['plan']:<24} {r['status']}"
                      f"{'  (DONE)' if r['done'] else ''}", markup=False)
    else:
        out.print(f"phase {phases[index].id} [{index + 1}/{len(phases)}] sequence: "
                  + " ".join(p.id for p in phases), markup=False)
        if action in ("next", "set") and not restart:
            out.print("loop agents get the new kickoff when they next start (add --restart to restart them now)",
                      markup=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                "help_option_names": []}, add_help_option=False)
def sim(ctx: typer.Context) -> None:
    """Run the simulated agent TUI (`agentsup sim --help` lists its flags)."""
    from .sim import main as sim_main

    raise typer.Exit(sim_main(list(ctx.args)))


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")] = None,
    keep: Annotated[bool, typer.Option(help="keep the scratch directory")] = False,
) -> None:
    """Start three sim agents and a watchdog on a private tmux socket, ping one, crash one and watch
    it healed; Ctrl-C stops everything and removes the scratch directory."""
    from rich.console import Group

    from .demo import crash, write_demo
    from .journal import read_events
    from .status import collect

    workdir = Path(tempfile.mkdtemp(prefix="agentsup-demo-"))
    cfg = load_config(write_demo(workdir))
    rt = control.make_runtime(cfg)
    journal = cfg.log_dir / "events.jsonl"
    notes: list[str] = []

    def view() -> Group:
        recent = [f"  {e['ts'][11:19]} {e.get('agent', '-'):<12} {e['event']} {e.get('reason', '')}"
                  for e in read_events(journal, limit=6)]
        return Group(render.status_table(collect(rt)), "", *notes[-3:], "watchdog events:", *recent)

    out.print(f"demo project: {workdir}  (tmux socket {cfg.socket()!r})")
    try:
        render.action_lines(control.up(rt, []))
        out.print(f"look inside: tmux -L {cfg.socket()} attach -t =demo-builder   (Ctrl-C here stops the demo)")
        started = time.monotonic()
        steps = {3: "ping", 6: "crash"}
        with Live(view(), console=out, refresh_per_second=2) as live:
            while duration is None or time.monotonic() - started < duration:
                time.sleep(1)
                step = steps.pop(int(time.monotonic() - started), None)
                if step == "ping":
                    result = rt.deliverer.deliver("demo-builder", "Hello from agentsup: start the first gate.")
                    notes.append(f"ping builder: {result.result.value}")
                elif step == "crash":
                    pid = crash(rt, "adversary")
                    notes.append(f"killed the adversary's program (pid {pid}); the watchdog restarts it")
                live.update(view())
    except KeyboardInterrupt:
        pass
    finally:
        out.line()  # the live view's last line may end without one
        control.down(rt, [])
        rt.tmux.kill_server()
        if not keep:
            # The dying sessions' wrappers and log pipes may still write a last file: retry, bounded.
            for _ in range(50):
                shutil.rmtree(workdir, ignore_errors=True)
                if not workdir.exists():
                    break
                time.sleep(0.1)
        out.print("demo stopped; agents and its tmux server are gone" + (f"; kept {workdir}" if keep else ""))


@app.command("config-reference", hidden=True)
def config_reference(
    write: Annotated[Path | None, typer.Option(help="replace the reference block in this Markdown file")] = None,
) -> None:
    """Print the Markdown reference of every agents.toml key, or refresh it inside README.md."""
    from .reference import embed, markdown

    if write is None:
        sys.stdout.write(markdown())
    else:
        write.write_text(embed(write.read_text(encoding="utf-8")), encoding="utf-8")


def hoist_config(argv: list[str]) -> list[str]:
    """`-c FILE` / `--config FILE` may stand before or after the command: move it before, where the
    app reads it. Arguments after `--` are left alone (a message may be "-c")."""
    end = argv.index("--") if "--" in argv else len(argv)
    for i, arg in enumerate(argv[:end]):
        if i == 0:
            continue  # before the command already
        if arg in ("-c", "--config") and i + 1 < end:
            return [arg, argv[i + 1], *argv[:i], *argv[i + 2:]]
        if arg.startswith("--config="):
            return [arg, *argv[:i], *argv[i + 1:]]
    return argv


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] not in ("-c", "--config") and not args[0].startswith("--config=") and args[0] != "detect":
        args = hoist_config(args)
    try:
        app(args=args)
    except AgentsupError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file the user named that is not there: a message, never a traceback
        err.print(f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), markup=True,
                  highlight=False)
        sys.exit(1)
