"""Fleet commands as functions that return result objects: each host's own agentsup runs the
command (`--json`) over ssh, and the answers are merged. Targets are `HOST:NAME`, or `HOST:` for
every agent of a host."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentsup import __version__
from agentsup.errors import ConfigError
from agentsup.fleet.config import Fleet, Host
from agentsup.fleet.ssh import Answer, call_all

STATUS_VERSION = 1  # the `status --json` shape this agentsup reads


def remote(host: Host, *args: str) -> list[str]:
    """The argv of an agentsup command on `host`, against its own agents.toml."""
    return [host.agentsup, "-c", host.config, *args]


def parse_targets(fleet: Fleet, targets: list[str], *, whole_hosts: bool = True) -> dict[str, list[str]]:
    """HOST:NAME and HOST: targets, grouped by host in the order given (an empty list: every agent
    of that host)."""
    groups: dict[str, list[str]] = {}
    whole: set[str] = set()
    for target in targets:
        host, sep, name = target.partition(":")
        if not sep:
            raise ConfigError(f"target {target!r}: write HOST:NAME (or HOST: for every agent of a host)")
        fleet.host(host)  # an unknown host is named, with a did-you-mean
        if not name and not whole_hosts:
            raise ConfigError(f"target {target!r}: this command needs an agent: HOST:NAME")
        groups.setdefault(host, [])
        if name:
            groups[host].append(name)
        else:
            whole.add(host)
    return {host: [] if host in whole else names for host, names in groups.items()}


@dataclass(frozen=True)
class HostReply:
    """One host's part of a fleet command: the remote exit code and JSON, or why there is none."""

    host: str
    code: int | None
    data: Any = None
    error: str = ""
    seconds: float = 0.0  # how long the host took

    @property
    def ok(self) -> bool:
        return not self.error and self.code == 0

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "exit_code": self.code, "result": self.data, "error": self.error or None,
                "seconds": round(self.seconds, 3)}


def reply_of(answer: Answer) -> HostReply:
    """A host's JSON answer, or one line that says why there is none (unreachable, login, missing
    or incompatible agentsup, the command's own error)."""
    if answer.error:
        return HostReply(answer.host, answer.code, error=answer.error, seconds=answer.seconds)
    try:
        data = json.loads(answer.stdout) if answer.stdout.strip() else None
    except ValueError:
        data = None
        if answer.code == 0:
            return HostReply(answer.host, answer.code, seconds=answer.seconds,
                             error=f"incompatible agentsup on the host: not JSON: {answer.stdout.strip()[:120]!r}")
    if data is None and answer.code != 0:
        last = next((line for line in reversed(answer.stderr.splitlines()) if line.strip()), "")
        return HostReply(answer.host, answer.code, error=f"exit {answer.code}: {last.removeprefix('error: ')}",
                         seconds=answer.seconds)
    return HostReply(answer.host, answer.code, data, seconds=answer.seconds)


@dataclass(frozen=True)
class FleetStatus:
    """Every host's `status --json`, or why a host did not give one."""

    hosts: list[HostReply] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts)

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "hosts": [h.to_json() for h in self.hosts]}


def status(fleet: Fleet, hosts: list[str] | None = None) -> FleetStatus:
    names = hosts or list(fleet.hosts)
    for name in names:
        fleet.host(name)
    answers = call_all(fleet, {n: (n, remote(fleet.hosts[n], "status", "--json")) for n in names})
    replies = []
    for answer in answers.values():
        reply = reply_of(answer)
        if reply.ok and (not isinstance(reply.data, dict) or reply.data.get("version") != STATUS_VERSION):
            shape = reply.data.get("version") if isinstance(reply.data, dict) else type(reply.data).__name__
            reply = HostReply(reply.host, reply.code, seconds=reply.seconds,
                              error=f"incompatible agentsup on the host: status version {shape}, "
                                    f"this agentsup reads {STATUS_VERSION}")
        replies.append(reply)
    return FleetStatus(replies)


def run(fleet: Fleet, command: str, targets: list[str], *extra: str, whole_hosts: bool = True,
        one_name: bool = False) -> list[HostReply]:
    """`command` on each host that owns a target, with that host's names after `extra`; a command
    that takes one name (`one_name`) runs once per name."""
    groups = parse_targets(fleet, targets, whole_hosts=whole_hosts)
    if one_name:
        jobs = {f"{host}:{name}": (host, remote(fleet.hosts[host], command, *extra, "--json", "--", name))
                for host, names in groups.items() for name in names}
    else:
        jobs = {host: (host, remote(fleet.hosts[host], command, *extra, "--json", "--", *names))
                for host, names in groups.items()}
    return [reply_of(a) for a in call_all(fleet, jobs).values()]


def ping(fleet: Fleet, targets: list[str], message: str, *, now: bool = False, force: bool = False) -> list[HostReply]:
    flags = [*(["--now"] if now else []), *(["--force"] if force else [])]
    groups = parse_targets(fleet, targets, whole_hosts=False)
    answers = call_all(fleet, {host: (host, remote(fleet.hosts[host], "ping", "--json", *flags, "--", *names, message))
                               for host, names in groups.items()})
    return [reply_of(a) for a in answers.values()]


@dataclass(frozen=True)
class HostCheck:
    """One doctor line of one host."""

    host: str
    name: str
    level: str  # ok | warn | fail
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "name": self.name, "level": self.level, "detail": self.detail}


def doctor(fleet: Fleet, hosts: list[str] | None = None) -> list[HostCheck]:
    """Per host: the ssh login, the remote agentsup's version against ours, and the host's own
    doctor (watchdog alive and ticking, the user unit, linger, what would die at logout)."""
    names = hosts or list(fleet.hosts)
    for name in names:
        fleet.host(name)
    answers = call_all(fleet, {n: (n, remote(fleet.hosts[n], "doctor", "--json")) for n in names})
    checks: list[HostCheck] = []
    for name, answer in answers.items():
        if answer.error:
            checks.append(HostCheck(name, "ssh login", "fail", answer.error))
            continue
        checks.append(HostCheck(name, "ssh login", "ok", f"{fleet.hosts[name].ssh}"))
        reply = reply_of(answer)
        if not isinstance(reply.data, list):
            checks.append(HostCheck(name, "agentsup", "fail", reply.error or "doctor gave no checks"))
            continue
        for item in reply.data:
            if isinstance(item, dict):
                checks.append(HostCheck(name, str(item.get("name")), str(item.get("level")), str(item.get("detail"))))
        theirs = next((c.detail.split()[0] for c in checks if c.host == name and c.name == "agentsup"), None)
        if theirs is not None and theirs != __version__:
            checks.append(HostCheck(name, "version", "warn", f"the host runs agentsup {theirs}; this one is "
                                                             f"{__version__}"))
    return checks
