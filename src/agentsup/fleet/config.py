"""fleet.toml: the hosts a fleet command reaches over ssh. Found the way agents.toml is (`--fleet`,
then $AGENTSUP_FLEET, then the nearest fleet.toml up from the working directory) and validated by
the same tables, so a mistake is named by its key path with a did-you-mean."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentsup.config.schema import check_name
from agentsup.config.tables import Problems, Table, convert, spec, suggest
from agentsup.errors import ConfigError


def _destination(value: str) -> str:
    if not value or value.startswith("-") or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"{value!r} is not an ssh destination (a host, user@host or an ssh config alias; "
                         "options go in ssh_options)")
    return value


class FleetSettings(Table):
    """The `[fleet]` table: how every host is reached."""

    timeout: float = spec(15.0, gt=0, doc="seconds a host may take to answer before it is abandoned")
    connect_timeout: int = spec(5, ge=1, doc="ssh's ConnectTimeout, seconds")
    control_persist: int = spec(300, ge=0, doc="seconds an idle shared ssh connection stays open (0: never shared)")


class HostSpec(Table):
    """One `[[host]]`: a machine with its own agentsup and agents.toml."""

    name: str = spec(doc="the host's name in fleet commands (HOST:NAME)", check=check_name)
    ssh: str = spec(doc="the ssh destination: anything ssh accepts, ~/.ssh/config aliases included",
                    check=_destination)
    ssh_options: list[str] = spec(factory=list, doc="extra arguments for ssh, before the destination (~ expanded)")
    config: str = spec("agents.toml", doc="the agents.toml on that host (relative to its home; ~ is its home)")
    agentsup: str = spec("agentsup", doc="the agentsup command on that host (~ is its home)")
    timeout: float | None = spec(None, gt=0, doc="this host's own timeout (default: [fleet].timeout)")


class FleetFile(Table):
    """fleet.toml: the hosts fleet commands reach over ssh."""

    fleet: FleetSettings = spec(factory=FleetSettings, doc="how hosts are reached")
    host: list[HostSpec] = spec(factory=list, doc="the hosts")


@dataclass(frozen=True)
class Host:
    """One host, resolved: its ssh destination and options, remote config and command, timeout."""

    name: str
    ssh: str
    ssh_options: tuple[str, ...]
    config: str
    agentsup: str
    timeout: float


@dataclass(frozen=True)
class Fleet:
    """fleet.toml, loaded: its hosts in file order and the shared settings."""

    path: Path
    hosts: dict[str, Host]
    settings: FleetSettings

    def host(self, name: str) -> Host:
        if name not in self.hosts:
            raise ConfigError(f"{self.path}: no host named {name!r}{suggest(name, list(self.hosts))}; "
                              f"hosts: {', '.join(self.hosts) or '-'}")
        return self.hosts[name]


def find_fleet(explicit: str | None, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser()
    if env.get("AGENTSUP_FLEET"):
        return Path(env["AGENTSUP_FLEET"]).expanduser()
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / "fleet.toml").is_file():
            return folder / "fleet.toml"
    return Path("fleet.toml")


def load_fleet(path: Path) -> Fleet:
    path = path.expanduser().absolute()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: fleet file not found (use --fleet PATH, $AGENTSUP_FLEET or ./fleet.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    problems = Problems()
    model = convert(FleetFile, raw, "", problems)
    if model is not None:
        seen: set[str] = set()
        for i, spec_ in enumerate(model.host):
            if spec_.name in seen:
                problems.add(f"host[{i}] ({spec_.name}).name", f"duplicate host name {spec_.name!r}")
            seen.add(spec_.name)
        if not model.host:
            problems.add("host", "no [[host]] is declared")
    if problems or model is None:
        raise ConfigError(f"{path}: invalid fleet file:\n" + "\n".join(f"  - {p}" for p in problems))
    hosts = {h.name: Host(h.name, h.ssh, tuple(os.path.expanduser(o) for o in h.ssh_options), h.config, h.agentsup,
                          h.timeout or model.fleet.timeout) for h in model.host}
    return Fleet(path, hosts, model.fleet)
