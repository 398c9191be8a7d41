"""The `agentsup` command line: parse arguments, call one core function, render its result.

argparse (standard library) rather than a CLI framework: every command starts as a new process,
and on this class of machine importing the framework alone took most of `--help`'s 100 ms budget.
Each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, render
from .completion import PHASE_ACTIONS
from .errors import AgentsupError, ConfigError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
NAME_HELP = "agent, service or 'watchdog'"


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn
    return register


# ── the config a command works with ─────────────────────────────────────────────────────────


def load(args: argparse.Namespace, *, last_good: bool = False, apply_overrides: bool = True) -> Any:
    """The config; for commands that read or stop (`last_good`), a config that stopped validating
    falls back to its last valid copy, so the operator can still see and stop everything."""
    from .config import load_config, load_last_good
    from .configfiles import find_config, remember_good

    path = find_config(args.config)
    try:
        cfg = load_config(path, apply_overrides=apply_overrides)
    except ConfigError as exc:
        fallback = load_last_good(path, apply_overrides=apply_overrides) if last_good else None
        if fallback is None:
            raise
        args.config_error = str(exc)
        render.warn(f"{path} is invalid; using its last valid copy (`agentsup check` shows the error)")
        return fallback
    remember_good(cfg.path)
    return cfg


def emit(args: argparse.Namespace, value: Any, text: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        render.print_json(value)
    else:
        rendered = text()
        if rendered:
            render.write(rendered)


# ── commands ────────────────────────────────────────────────────────────────────────────────


@command("up")
def cmd_up(args: argparse.Namespace) -> int:
    from . import operate

    done = operate.up(load(args), args.names, with_watchdog=not args.no_watchdog)
    for warning in done.warnings:
        render.warn(warning)
    emit(args, done, lambda: render.action_lines(done.results))
    return 1 if any(r.action == "failed" for r in done.results) else 0


@command("down")
def cmd_down(args: argparse.Namespace) -> int:
    from . import operate

    done = operate.down(load(args, last_good=True), args.names, remove_worktree=args.remove_worktree,
                        force=args.force)
    emit(args, done, lambda: render.action_lines(done.results))
    return 0


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .control import make_runtime
    from .status import collect

    rt = make_runtime(load(args, last_good=True))
    if args.watch:
        from .live import watch

        watch(rt)
        return 0
    report = collect(rt)
    if getattr(args, "config_error", None):
        report = replace(report, config_error=args.config_error)
    emit(args, report, lambda: render.status_text(report))
    return 0


@command("check")
def cmd_check(args: argparse.Namespace) -> int:
    from . import operate

    report = operate.check(load(args))

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

    emit(args, report, text)
    return 0


@command("init")
def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import init

    written = init(Path(args.directory), args.backend, force=args.force)
    emit(args, written, lambda: "\n".join([*(f"wrote {w.path}  ({w.what})" for w in written),
                                           "next: edit plan-p1.md, then `agentsup check` and `agentsup up`"]))
    return 0


@command("schema")
def cmd_schema(args: argparse.Namespace) -> int:
    from .scaffold import schema

    sys.stdout.write(schema())
    return 0


@command("doctor")
def cmd_doctor(args: argparse.Namespace) -> int:
    from .config import load_config
    from .configfiles import find_config
    from .doctor import Level, run_checks

    path = find_config(args.config)
    try:
        cfg, problem = load_config(path), None
    except ConfigError as exc:
        cfg, problem = None, str(exc)
    checks = run_checks(cfg, path, problem)
    paint = render.Painter(render.colour_on(sys.stdout))
    styles = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}
    emit(args, checks, lambda: "\n".join(f"{paint(c.level.value.ljust(4), styles[c.level])} {c.name}: {c.detail}"
                                         for c in checks))
    return 1 if any(c.level is Level.FAIL for c in checks) else 0


@command("logs")
def cmd_logs(args: argparse.Namespace) -> int:
    from .control import session_of
    from .launch import log_path
    from .logs import follow, tail_lines

    cfg = load(args, last_good=True)
    path = log_path(cfg, session_of(cfg, args.name))
    if not path.exists() and not args.follow:
        raise AgentsupError(f"no log yet for {args.name!r} ({path})")
    lines = tail_lines(path, args.lines)
    if args.json:
        render.print_json({"name": args.name, "path": str(path), "lines": lines})
        return 0
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
    if args.follow:
        for chunk in follow(path):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    return 0


@command("attach")
def cmd_attach(args: argparse.Namespace) -> int:
    from .control import make_runtime, session_of

    rt = make_runtime(load(args, last_good=True))
    session = session_of(rt.cfg, args.name)
    if rt.tmux.pane(session) is None:
        raise AgentsupError(f"{args.name} is not running (session {session!r}); start it with "
                            f"`agentsup up {args.name}`")
    argv = rt.tmux.attach_argv(session)
    os.environ.pop("TMUX", None)
    os.execvp(argv[0], argv)


@command("ping")
def cmd_ping(args: argparse.Namespace) -> int:
    from . import operate

    if len(args.targets) < (1 if args.all else 2):
        raise ConfigError("usage: agentsup ping NAME... MESSAGE  (or: agentsup ping --all MESSAGE)")
    *names, message = args.targets
    rows = operate.ping(load(args, last_good=True), names, message, everyone=args.all, now=args.now,
                        force=args.force)
    paint = render.Painter(render.colour_on(sys.stdout))
    emit(args, rows[0] if len(rows) == 1 and not args.all else rows,
         lambda: "\n".join(paint(r.result, "green" if r.ok else "red") + f" {r.agent}: {r.detail}" for r in rows))
    return 0 if all(r.ok for r in rows) else 1


@command("watchdog")
def cmd_watchdog(args: argparse.Namespace) -> int:
    import time

    from .configfiles import find_config
    from .watchdog import Watchdog

    def show(entry: dict[str, object]) -> None:
        if args.quiet:
            return
        fields = render.event_fields(entry)
        who = f"{entry['agent']}: " if entry.get("agent") else ""
        prefix = "would: " if args.dry_run else ""
        render.write(f"[{time.strftime('%H:%M:%S')}] {prefix}{who}{entry['event']} {fields}".rstrip())

    dog = Watchdog(find_config(args.config), dry_run=args.dry_run, emit=show)
    if args.once:
        stats = dog.once()
        render.write(f"tick: {stats.wall_ms:.1f} ms, {stats.tmux_calls} tmux calls, {stats.captures} captures, "
                     f"{stats.agents} agents")
    else:
        dog.run()
    return 0


@command("detect")
def cmd_detect(args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .backends import PRESETS, resolve_backend
    from .detect import classify
    from .reconcile import local_zone
    from .resettime import parse_iso

    if args.config or os.environ.get("AGENTSUP_CONFIG"):
        backends = dict(load(args).backends)
    else:
        backends = {name: resolve_backend(name, None) for name in PRESETS}
    if args.backend not in backends:
        raise AgentsupError(f"unknown backend {args.backend!r}; known: {', '.join(sorted(backends))}")
    try:
        zone = ZoneInfo(args.tz) if args.tz else local_zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise AgentsupError(f"--tz: unknown time zone {args.tz!r} (use an IANA name like Europe/Dublin)") from None
    ref = parse_iso(args.now, zone) if args.now else datetime.now(zone)
    if ref is None:
        raise AgentsupError(f"--now: not an ISO-8601 time: {args.now!r}")
    text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text(encoding="utf-8", errors="replace")
    render.print_json(classify(text, backends[args.backend], ref, zone).to_json())
    return 0


@command("events")
def cmd_events(args: argparse.Namespace) -> int:
    import json

    from .control import session_of
    from .journal import follow_events, read_events

    cfg = load(args, last_good=True)
    if args.agent is not None:
        session_of(cfg, args.agent)  # validates the name
    path = cfg.log_dir / "events.jsonl"

    def show(entry: dict[str, object]) -> None:
        if args.json:
            render.write(json.dumps(entry, ensure_ascii=False))
            return
        fields = render.event_fields(entry)
        render.write(f"{entry.get('ts', '')}  {entry.get('agent', '-')!s:<14} {entry.get('event')}  {fields}")

    for entry in read_events(path, agent=args.agent, limit=args.lines):
        show(entry)
    if args.follow:
        for entry in follow_events(path, agent=args.agent):
            show(entry)
    return 0


@command("reset")
def cmd_reset(args: argparse.Namespace) -> int:
    from . import operate

    done = operate.reset(load(args), args.name)
    emit(args, done, lambda: "\n".join(f"reset {r.name}: {r.detail}" for r in done.results))
    return 0


@command("restart")
def cmd_restart(args: argparse.Namespace) -> int:
    from . import operate

    done = operate.restart(load(args), args.names)
    emit(args, done, lambda: render.verb_lines("restart", done.results))
    return 1 if any(r.action == "start-failed" for r in done.results) else 0


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from . import operate

    run_vars = {}
    for item in args.var or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--var {item!r}: write it as KEY=VALUE")
        run_vars[key] = value
    done = operate.run_task(load(args), args.task, run_vars)
    emit(args, done, lambda: render.verb_lines("run", done.results))
    return 0


@command("phase")
def cmd_phase(args: argparse.Namespace) -> int:
    from . import operate

    report = operate.phase(load(args), args.action, args.value, restart=args.restart)

    def text() -> str:
        lines = []
        if report.restarted is not None:
            lines.append(render.action_lines(report.restarted.results))
        if args.action == "list":
            lines += [f"{'>' if r['current'] else ' '} {r['index']}  {r['id']:<12} {r['plan']:<24} {r['status']}"
                      f"{'  (DONE)' if r['done'] else ''}" for r in report.phases]
        else:
            lines.append(f"phase {report.id} [{report.index + 1}/{len(report.phases)}] sequence: "
                         + " ".join(r["id"] for r in report.phases))
            if report.moved and report.restarted is None:
                lines.append("loop agents get the new kickoff when they next start (add --restart to restart "
                             "them now)")
        return "\n".join(lines)

    emit(args, report, text)
    return 0


@command("usage")
def cmd_usage(args: argparse.Namespace) -> int:
    from .accounting import collect, parse_duration
    from .control import make_runtime

    try:
        since = parse_duration(args.since) if args.since else None
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    report = collect(make_runtime(load(args, last_good=True)), since_seconds=since)
    emit(args, report, lambda: render.usage_text(report))
    return 0


@command("notify")
def cmd_notify(args: argparse.Namespace) -> int:
    from . import operate

    results = operate.notify_test(load(args))
    emit(args, results, lambda: "\n".join(
        f"sent    {r.channel} (attempt {r.attempts})" if r.ok else
        f"FAILED  {r.channel} after {r.attempts} attempt(s): {r.error}" for r in results))
    return 0 if all(r.ok for r in results) else 1


@command("demo")
def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(duration=args.duration, keep=args.keep)
    return 0


@command("config-reference")
def cmd_config_reference(args: argparse.Namespace) -> int:
    from .reference import embed, markdown

    if args.write is None:
        sys.stdout.write(markdown())
    else:
        path = Path(args.write)
        path.write_text(embed(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


@command("__complete")
def cmd___complete(args: argparse.Namespace) -> int:
    from .completion import candidates

    names: list[str] = []
    try:
        from .config import load_config
        from .configfiles import find_config

        cfg = load_config(find_config(None))
        names = [*cfg.agents, *cfg.services, "watchdog"]
    except AgentsupError:
        pass
    commands = {name: sorted(opt for action in sub._actions for opt in action.option_strings)
                for name, sub in SUBPARSERS.items() if name not in HIDDEN}
    words = list(args.words)
    sys.stdout.write("".join(c + "\n" for c in candidates(int(args.cword), words, commands, names)))
    return 0


# ── the parser ──────────────────────────────────────────────────────────────────────────────

SUBPARSERS: dict[str, argparse.ArgumentParser] = {}
HIDDEN = ("config-reference", "__complete")


class Parser(argparse.ArgumentParser):
    """Usage errors are one line that names what is wrong, and exit 2."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and "COMMAND" in message:
            word = message.split("invalid choice: ")[1].split(" (")[0]
            shown = [c for c in SUBPARSERS if c not in HIDDEN]
            from .tables import suggest

            message = f"unknown command {word}{suggest(word.strip(chr(39)), shown)}; commands: {', '.join(shown)}"
        render.error(f"{self.prog}: {message} (`{self.prog} -h` for help)")
        sys.exit(2)
CONFIG_HELP = "agents.toml (else $AGENTSUP_CONFIG, else the nearest agents.toml up from here)"


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="agentsup", description="Keep long-running AI coding agents working in tmux, driven by agents.toml.",
        epilog="Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 unknown name, 4 tmux unavailable, "
               "75 another watchdog holds the lock. `agentsup COMMAND -h` for a command's options.")
    top.add_argument("-c", "--config", help=CONFIG_HELP)
    top.add_argument("--version", action="version", version=f"agentsup {__version__}")
    top.add_argument("--show-completion", nargs="?", const="", metavar="SHELL",
                     help="print the completion script for bash, zsh or fish (default: $SHELL)")
    top.add_argument("--install-completion", nargs="?", const="", metavar="SHELL",
                     help="install completion for bash, zsh or fish (default: $SHELL)")
    subs = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def sub(name: str, help: str, *, json: bool = False, hidden: bool = False) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=None if hidden else help, description=help)
        p.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
        if json:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        SUBPARSERS[name] = p
        return p

    p = sub("up", "start enabled agents, services and the watchdog that are not running", json=True)
    p.add_argument("names", nargs="*", help="agents/services to start (default: all enabled)")
    p.add_argument("--no-watchdog", action="store_true", help="do not start the watchdog")
    p = sub("down", "stop agents and services (all, and the watchdog, when none are named)", json=True)
    p.add_argument("names", nargs="*", help="agents/services to stop (default: all)")
    p.add_argument("--remove-worktree", action="store_true", help="also remove the named agents' git worktrees")
    p.add_argument("--force", action="store_true", help="remove a worktree even with uncommitted changes")
    p = sub("status", "every agent and service with its state, pid and uptime", json=True)
    p.add_argument("-w", "--watch", action="store_true", help="a live view, refreshed every second")
    sub("check", "validate agents.toml and summarise it (exit 2 when invalid)", json=True)
    p = sub("init", "write a commented agents.toml and prompts/ for a builder/adversary pair", json=True)
    p.add_argument("directory", nargs="?", default=".", help="project directory")
    p.add_argument("--backend", default="claude", help="claude, codex, opencode, gemini or sim")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    sub("schema", "print the JSON Schema of agents.toml")
    sub("doctor", "preflight for a new server: one line per check, exit 1 on a FAIL", json=True)
    p = sub("logs", "an agent's pane output (escapes stripped)", json=True)
    p.add_argument("name", help=NAME_HELP)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to show")
    p = sub("attach", "your terminal in an agent's tmux session")
    p.add_argument("name", help="agent or service")
    p = sub("ping", "type a message into agents and submit it, verified (exit 1 if it stranded)", json=True)
    p.add_argument("targets", nargs="+", metavar="NAME... MESSAGE", help="agent names, then the message")
    p.add_argument("--all", action="store_true", help="every enabled agent (then only the message)")
    p.add_argument("--now", action="store_true", help="type it even into an agent held by a usage limit")
    p.add_argument("--force", action="store_true", help="clear a draft left in the input box first")
    p = sub("watchdog", "the reconcile loop that keeps every agent working (usually via up or systemd)")
    p.add_argument("--once", action="store_true", help="run one full tick and exit")
    p.add_argument("--dry-run", action="store_true", help="print decisions, act on nothing")
    p.add_argument("--quiet", action="store_true", help="print nothing per event (the journal has them)")
    p = sub("detect", "classify a screen capture and print one JSON object")
    p.add_argument("source", nargs="?", default="-", help="screen capture file, or - for stdin")
    p.add_argument("--backend", default="claude", help="backend whose patterns apply")
    p.add_argument("--now", help="reference time, ISO-8601 (default: now)")
    p.add_argument("--tz", help="IANA zone for times that name none")
    p = sub("events", "the watchdog's journal", json=True)
    p.add_argument("--agent", help="only this agent's events")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    p.add_argument("-n", "--lines", type=int, default=50, help="events to show")
    p = sub("reset", "clear an agent's FATAL state and restart budget", json=True)
    p.add_argument("name", help="agent to revive")
    p = sub("restart", "end agents' process trees and start them again (counts in the budget)", json=True)
    p.add_argument("names", nargs="+", help="agents to restart")
    p = sub("run", "start a task agent now (again, even when it ran before)", json=True)
    p.add_argument("task", help="task agent")
    p.add_argument("--var", action="append", metavar="KEY=VALUE", help="a template variable for this run")
    p = sub("phase", "inspect or move the build loop's phase", json=True)
    p.add_argument("action", nargs="?", default="show", choices=PHASE_ACTIONS)
    p.add_argument("value", nargs="?", help="for set: a 0-based index or a phase id")
    p.add_argument("--restart", action="store_true", help="restart the loop agents on the new phase")
    p = sub("usage", "tokens, turns and cost per agent from the CLIs' own records; the five-hour window", json=True)
    p.add_argument("--since", metavar="DURATION", help="only what was used in the last DURATION (30m, 2h, 1d)")
    p = sub("notify", "notifications: `notify test` sends a test event to every channel", json=True)
    p.add_argument("action", choices=["test"])
    sub("sim", "the simulated agent TUI (`agentsup sim --help` lists its flags)")
    p = sub("demo", "three sim agents and a watchdog on a private tmux socket; Ctrl-C cleans up")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p = sub("config-reference", "the Markdown reference of every agents.toml key", hidden=True)
    p.add_argument("--write", help="replace the reference block in this Markdown file")
    p = sub("__complete", "candidates for shell completion", hidden=True)
    p.add_argument("cword")
    p.add_argument("words", nargs=argparse.REMAINDER)
    return top


def _hide_hidden(top: argparse.ArgumentParser) -> None:
    """argparse lists every subcommand choice; hidden ones go from the help's list."""
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            action._choices_actions = [a for a in action._choices_actions if a.help is not None]


def _sim_args(argv: list[str]) -> list[str] | None:
    """`agentsup [-c X] sim ARGS...`: ARGS go to the sim untouched (its own --help included)."""
    i = 0
    while i < len(argv):
        if argv[i] in ("-c", "--config"):
            i += 2
        elif argv[i].startswith("--config="):
            i += 1
        else:
            return argv[i + 1:] if argv[i] == "sim" else None
    return None


def run(argv: list[str]) -> int:
    sim_args = _sim_args(argv)
    if sim_args is not None:
        from .sim import main as sim_main

        return sim_main(sim_args)
    top = parser()
    _hide_hidden(top)
    args = top.parse_args(argv)
    if args.show_completion is not None or args.install_completion is not None:
        from .completion import SCRIPTS, install, shell_of

        try:
            shell = shell_of(args.show_completion or args.install_completion or None)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if args.show_completion is not None:
            sys.stdout.write(SCRIPTS[shell])
        else:
            target, after = install(shell)
            render.write(f"installed {shell} completion: {target}" + (f"\nthen {after}" if after else ""))
        return 0
    if args.command is None:
        top.print_help()
        return 2
    return COMMANDS[args.command](args)


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except AgentsupError as exc:
        render.error(str(exc))
        code = exc.exit_code
    except OSError as exc:  # a file the user named that is not there: a message, never a traceback
        render.error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
