"""Commands that act on agents: start, stop, look at, talk to."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from agentsup.cli import render
from agentsup.errors import AgentsupError, ConfigError

from .app import Call, ConfigOption, JsonOption, app, complete_names, done, emit, flag, load


def reader_gone() -> bool:
    """Whoever reads our output went away (an ssh session that ended, a closed pipe): a follow
    ends then, instead of lingering until its next write fails."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # no events asked: only errors and hang-ups come back
        return any(flags & (select.POLLERR | select.POLLHUP) for _, flags in poller.poll(0))
    except (OSError, ValueError):
        return False


Names = Annotated[list[str] | None, typer.Argument(help="agents/services (default: all enabled)",
                                                   autocompletion=complete_names, show_default=False)]
Name = Annotated[str, typer.Argument(help="agent, service or 'watchdog'", autocompletion=complete_names)]


@app.command()
def up(ctx: typer.Context, names: Names = None, config: ConfigOption = None, json: JsonOption = False,
       no_watchdog: Annotated[bool, flag("--no-watchdog", "do not start the watchdog")] = False) -> None:
    """Start enabled agents, services and the watchdog that are not running."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    result = operate.up(load(call), names or [], with_watchdog=not no_watchdog)
    for warning in result.warnings:
        render.warn(warning)
    emit(call, result, lambda: render.action_lines(result.results))
    done(1 if any(r.action == "failed" for r in result.results) else 0)


@app.command()
def down(ctx: typer.Context, names: Names = None, config: ConfigOption = None, json: JsonOption = False,
         remove_worktree: Annotated[bool, flag("--remove-worktree", "also remove these agents' worktrees")] = False,
         force: Annotated[bool, flag("--force", "remove a worktree even with uncommitted changes")] = False) -> None:
    """Stop agents and services (all, and the watchdog, when none are named)."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    result = operate.down(load(call, last_good=True), names or [], remove_worktree=remove_worktree, force=force)
    emit(call, result, lambda: render.action_lines(result.results))


@app.command()
def status(ctx: typer.Context, config: ConfigOption = None, json: JsonOption = False,
           watch: Annotated[bool, typer.Option("-w", "--watch", help="a live view, refreshed every second")] = False,
           ) -> None:
    """Every agent and service with its state, pid and uptime."""
    from dataclasses import replace

    from agentsup.supervisor.operator.status import collect
    from agentsup.supervisor.processes.start_stop import make_runtime

    call = Call.of(ctx, config, json)
    rt = make_runtime(load(call, last_good=True))
    if watch:
        from agentsup.cli.live import watch as live_watch

        live_watch(rt)
        return
    report = collect(rt)
    if call.config_error:
        report = replace(report, config_error=call.config_error)
    emit(call, report, lambda: render.status_text(report))


@app.command()
def logs(ctx: typer.Context, name: Name, config: ConfigOption = None, json: JsonOption = False,
         follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new output")] = False,
         lines: Annotated[int, typer.Option("-n", "--lines", help="lines to show")] = 50) -> None:
    """An agent's pane output (escapes stripped)."""
    from agentsup.store.logs import follow as follow_log
    from agentsup.store.logs import tail_lines
    from agentsup.supervisor.processes.launch import log_path
    from agentsup.supervisor.processes.start_stop import session_of

    call = Call.of(ctx, config, json)
    cfg = load(call, last_good=True)
    path = log_path(cfg, session_of(cfg, name))
    if not path.exists() and not follow:
        raise AgentsupError(f"no log yet for {name!r} ({path})")
    shown = tail_lines(path, lines)
    if json:
        render.print_json({"name": name, "path": str(path), "lines": shown})
        return
    sys.stdout.write("".join(line + "\n" for line in shown))
    sys.stdout.flush()
    if follow:
        for chunk in follow_log(path, stop=reader_gone):
            sys.stdout.write(chunk)
            sys.stdout.flush()


@app.command()
def attach(ctx: typer.Context, name: Annotated[str, typer.Argument(help="agent or service",
                                                                   autocompletion=complete_names)],
           config: ConfigOption = None) -> None:
    """Your terminal in an agent's tmux session."""
    from agentsup.supervisor.processes.start_stop import make_runtime, session_of

    rt = make_runtime(load(Call.of(ctx, config), last_good=True))
    session = session_of(rt.cfg, name)
    if rt.tmux.pane(session) is None:
        raise AgentsupError(f"{name} is not running (session {session!r}); start it with `agentsup up {name}`")
    argv = rt.tmux.attach_argv(session)
    os.environ.pop("TMUX", None)
    os.execvp(argv[0], argv)


@app.command()
def ping(ctx: typer.Context,
         targets: Annotated[list[str], typer.Argument(metavar="NAME... MESSAGE", help="agent names, then the message",
                                                      autocompletion=complete_names)],
         config: ConfigOption = None, json: JsonOption = False,
         everyone: Annotated[bool, flag("--all", "every enabled agent (then only the message)")] = False,
         now: Annotated[bool, flag("--now", "type it even into an agent held by a usage limit")] = False,
         force: Annotated[bool, flag("--force", "clear a draft left in the input box first")] = False,
         ) -> None:
    """Type a message into agents and submit it, verified (exit 1 if it stranded)."""
    from agentsup.supervisor.operator import operate

    if len(targets) < (1 if everyone else 2):
        raise ConfigError("usage: agentsup ping NAME... MESSAGE  (or: agentsup ping --all MESSAGE)")
    *names, message = targets
    call = Call.of(ctx, config, json)
    rows = operate.ping(load(call, last_good=True), names, message, everyone=everyone, now=now, force=force)
    paint = render.Painter(render.colour_on(sys.stdout))
    emit(call, rows[0] if len(rows) == 1 and not everyone else rows,
         lambda: "\n".join(paint(r.result, "green" if r.ok else "red") + f" {r.agent}: {r.detail}" for r in rows))
    done(0 if all(r.ok for r in rows) else 1)


@app.command()
def events(ctx: typer.Context, config: ConfigOption = None, json: JsonOption = False,
           agent: Annotated[str | None, typer.Option(help="only this agent's events",
                                                     autocompletion=complete_names)] = None,
           follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new events")] = False,
           lines: Annotated[int, typer.Option("-n", "--lines", help="events to show")] = 50) -> None:
    """The watchdog's journal."""
    import json as jsonlib

    from agentsup.store.journal import follow_events, read_events
    from agentsup.supervisor.processes.start_stop import session_of

    cfg = load(Call.of(ctx, config, json), last_good=True)
    if agent is not None:
        session_of(cfg, agent)  # validates the name
    path = cfg.journal_path

    def show(entry: dict[str, object]) -> None:
        if json:
            render.write(jsonlib.dumps(entry, ensure_ascii=False))
            return
        fields = render.event_fields(entry)
        render.write(f"{entry.get('ts', '')}  {entry.get('agent', '-')!s:<14} {entry.get('event')}  {fields}")

    for entry in read_events(path, agent=agent, limit=lines):
        show(entry)
    if follow:
        for entry in follow_events(path, agent=agent, stop=reader_gone):
            show(entry)


@app.command()
def reset(ctx: typer.Context, name: Annotated[str, typer.Argument(help="agent to revive",
                                                                  autocompletion=complete_names)],
          config: ConfigOption = None, json: JsonOption = False) -> None:
    """Clear an agent's FATAL state and restart budget."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    result = operate.reset(load(call), name)
    emit(call, result, lambda: "\n".join(f"reset {r.name}: {r.detail}" for r in result.results))


@app.command()
def restart(ctx: typer.Context, names: Annotated[list[str], typer.Argument(help="agents to restart",
                                                                           autocompletion=complete_names)],
            config: ConfigOption = None, json: JsonOption = False) -> None:
    """End agents' process trees and start them again (counts in the budget)."""
    from agentsup.supervisor.operator import operate

    call = Call.of(ctx, config, json)
    result = operate.restart(load(call), names)
    emit(call, result, lambda: render.verb_lines("restart", result.results))
    done(1 if any(r.action == "start-failed" for r in result.results) else 0)


@app.command("run")
def run_task(ctx: typer.Context, task: Annotated[str, typer.Argument(help="task agent", autocompletion=complete_names)],
             config: ConfigOption = None, json: JsonOption = False,
             var: Annotated[list[str] | None, typer.Option(metavar="KEY=VALUE",
                                                           help="a template variable for this run")] = None) -> None:
    """Start a task agent now (again, even when it ran before)."""
    from agentsup.supervisor.operator import operate

    run_vars = {}
    for item in var or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--var {item!r}: write it as KEY=VALUE")
        run_vars[key] = value
    call = Call.of(ctx, config, json)
    result = operate.run_task(load(call), task, run_vars)
    emit(call, result, lambda: render.verb_lines("run", result.results))


@app.command()
def usage(ctx: typer.Context, config: ConfigOption = None, json: JsonOption = False,
          since: Annotated[str | None, typer.Option(metavar="DURATION",
                                                    help="only what was used in the last DURATION (30m, 2h, 1d)")
                           ] = None) -> None:
    """Tokens, turns and cost per agent from the CLIs' own records; the five-hour window."""
    from agentsup.supervisor.operator.accounting import collect, parse_duration
    from agentsup.supervisor.processes.start_stop import make_runtime

    try:
        seconds = parse_duration(since) if since else None
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    call = Call.of(ctx, config, json)
    report = collect(make_runtime(load(call, last_good=True)), since_seconds=seconds)
    emit(call, report, lambda: render.usage_text(report))
