"""`agentsup fleet ...`: the same commands across hosts, over the system's ssh (see fleet/)."""

from __future__ import annotations

import json as jsonlib
import sys
import threading
from typing import Annotated, Any

import typer

from agentsup.cli import render
from agentsup.cli.app import Commands, JsonOption, app, done, flag

fleet_app = typer.Typer(cls=Commands, help="The same commands across hosts over ssh (fleet.toml lists them).",
                        no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")

FleetOption = Annotated[str | None, typer.Option(
    "--fleet", help="fleet.toml (else $AGENTSUP_FLEET, else the nearest fleet.toml up from here)",
    show_default=False)]
Targets = Annotated[list[str] | None, typer.Argument(metavar="HOST:NAME...",
                                                     help="agents as HOST:NAME, or HOST: for every agent of a host",
                                                     show_default=False)]
Hosts = Annotated[list[str] | None, typer.Argument(metavar="HOST...", help="hosts (default: all)",
                                                   show_default=False)]


def _fleet(path: str | None) -> Any:
    from agentsup.fleet.config import find_fleet, load_fleet

    return load_fleet(find_fleet(path))


def _emit_replies(replies: list[Any], verb: str, json: bool) -> None:
    from agentsup.cli.fleetview import replies_text

    if json:
        render.print_json([r.to_json() for r in replies])
    else:
        render.write(replies_text(replies, verb))
    done(0 if all(r.ok for r in replies) else 1)


@fleet_app.command("status")
def fleet_status(hosts: Hosts = None, fleet: FleetOption = None, json: JsonOption = False,
                 watch: Annotated[bool, flag("--watch", "refresh every few seconds until Ctrl-C")] = False) -> None:
    """Every host's agents in one table (each host asked at once, each within its timeout)."""
    import time

    from agentsup.cli.fleetview import status_text
    from agentsup.fleet import ops

    spec = _fleet(fleet)
    while True:
        report = ops.status(spec, hosts or None)
        if json:
            render.print_json(report)
        else:
            render.write(status_text(report))
        if not watch:
            break
        time.sleep(2.0)
        if not json and sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[2J")
    done(0 if report.ok else 1)


@fleet_app.command("up")
def fleet_up(targets: Targets = None, fleet: FleetOption = None, json: JsonOption = False) -> None:
    """Start agents and each host's watchdog (its systemd user unit when installed, else detached)."""
    from agentsup.fleet import ops

    spec = _fleet(fleet)
    _emit_replies(ops.run(spec, "up", targets or [f"{h}:" for h in spec.hosts]), "up", json)


@fleet_app.command("down")
def fleet_down(targets: Targets = None, fleet: FleetOption = None, json: JsonOption = False) -> None:
    """Stop agents (HOST: stops a whole host, its watchdog too)."""
    from agentsup.fleet import ops

    spec = _fleet(fleet)
    _emit_replies(ops.run(spec, "down", targets or [f"{h}:" for h in spec.hosts]), "down", json)


@fleet_app.command("restart")
def fleet_restart(targets: Annotated[list[str], typer.Argument(metavar="HOST:NAME...")],
                  fleet: FleetOption = None, json: JsonOption = False) -> None:
    """End agents' process trees and start them again, each on its host."""
    from agentsup.fleet import ops

    _emit_replies(ops.run(_fleet(fleet), "restart", targets, whole_hosts=False), "restart", json)


@fleet_app.command("reset")
def fleet_reset(targets: Annotated[list[str], typer.Argument(metavar="HOST:NAME...")],
                fleet: FleetOption = None, json: JsonOption = False) -> None:
    """Clear agents' FATAL state and restart budget, each on its host."""
    from agentsup.fleet import ops

    _emit_replies(ops.run(_fleet(fleet), "reset", targets, whole_hosts=False, one_name=True), "reset", json)


@fleet_app.command("ping")
def fleet_ping(targets: Annotated[list[str], typer.Argument(metavar="HOST:NAME... MESSAGE")],
               fleet: FleetOption = None, json: JsonOption = False,
               now: Annotated[bool, flag("--now", "type it even into an agent held by a usage limit")] = False,
               force: Annotated[bool, flag("--force", "clear a draft left in the input box first")] = False) -> None:
    """Type a message into agents on their hosts; each delivery is reported."""
    from agentsup.errors import ConfigError
    from agentsup.fleet import ops

    if len(targets) < 2:
        raise ConfigError("usage: agentsup fleet ping HOST:NAME... MESSAGE")
    *names, message = targets
    _emit_replies(ops.ping(_fleet(fleet), names, message, now=now, force=force), "ping", json)


def _stream_failures(answers: dict[str, Any]) -> int:
    """Each host whose stream failed, named with why in one line; 1 if any did (a stream the user
    stopped has no answer: that is no failure)."""
    failed = [a for a in answers.values() if a.error or a.code]
    for answer in failed:
        last = (answer.stderr.strip().splitlines() or [f"exit {answer.code}"])[-1]
        render.error(f"{answer.host}: {answer.error or last.removeprefix('error: ')}")
    return 1 if failed else 0


@fleet_app.command("logs")
def fleet_logs(target: Annotated[str, typer.Argument(metavar="HOST:NAME")], fleet: FleetOption = None,
               json: JsonOption = False,
               follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new output")] = False,
               lines: Annotated[int, typer.Option("-n", "--lines", help="lines to show")] = 50) -> None:
    """An agent's pane output, from its host."""
    from agentsup.fleet import ops
    from agentsup.fleet.ssh import follow as follow_hosts

    spec = _fleet(fleet)
    host_name, names = next(iter(ops.parse_targets(spec, [target], whole_hosts=False).items()))
    argv = ops.remote(spec.hosts[host_name], "logs", "-n", str(lines), *(["-f"] if follow else []),
                      *(["--json"] if json else []), "--", names[0])
    answers = follow_hosts(spec, {host_name: (host_name, argv)}, lambda host, line: render.write(line))
    done(_stream_failures(answers))


@fleet_app.command("events")
def fleet_events(hosts: Hosts = None, fleet: FleetOption = None, json: JsonOption = False,
                 follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new events")] = False,
                 lines: Annotated[int, typer.Option("-n", "--lines", help="events to show per host")] = 20) -> None:
    """Every host's journal, each line prefixed with its host (-f follows them all)."""
    from agentsup.fleet import ops
    from agentsup.fleet.ssh import follow as follow_hosts

    spec = _fleet(fleet)
    names = hosts or list(spec.hosts)
    out = threading.Lock()

    def show(host: str, line: str) -> None:
        try:
            entry = jsonlib.loads(line)
        except ValueError:
            return
        with out:
            if json:
                render.write(jsonlib.dumps({"host": host, **entry}, ensure_ascii=False))
            else:
                fields = render.event_fields(entry)
                render.write(f"{host}  {entry.get('ts', '')}  {entry.get('agent', '-')!s:<14} "
                             f"{entry.get('event')}  {fields}".rstrip())

    jobs = {host: (host, ops.remote(spec.host(host), "events", "--json", "-n", str(lines), *(["-f"] if follow else [])))
            for host in names}
    done(_stream_failures(follow_hosts(spec, jobs, show)))


@fleet_app.command("doctor")
def fleet_doctor(hosts: Hosts = None, fleet: FleetOption = None, json: JsonOption = False) -> None:
    """Per host: ssh login, the remote agentsup's version, the watchdog, its unit, linger, logout."""
    from agentsup.cli.fleetview import doctor_text
    from agentsup.fleet import ops

    checks = ops.doctor(_fleet(fleet), hosts or None)
    if json:
        render.print_json([c.to_json() for c in checks])
    else:
        render.write(doctor_text(checks))
    done(1 if any(c.level == "fail" for c in checks) else 0)
