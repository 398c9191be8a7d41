"""Load agents.toml into an immutable, fully resolved Config, or fail with a ConfigError that names
the file, the key path (`agent[2].backend`) and what was expected."""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsup.agents.backends import PRESETS, Backend, resolve_backend
from agentsup.config import templates
from agentsup.config.files import config_digest, slug, state_home
from agentsup.config.schema import (
    INHERITED_AGENT_KEYS,
    AgentSpec,
    BackendSpec,
    ConfigFile,
    HooksSpec,
    Kind,
    LoopSpec,
    NotifySpec,
    TmuxSettings,
    Watch,
    WatchdogSettings,
    WorktreeSpec,
    check_session,
)
from agentsup.config.tables import Problems, convert, replace, suggest, was_set
from agentsup.errors import ConfigError
from agentsup.store.journal import Journal, journal_path, open_journal
from agentsup.store.state import StateDir

RESERVED_NAMES = frozenset({"watchdog"})


@dataclass(frozen=True)
class Wake:
    """An agent's wake-up prompt and its interval."""

    interval: float
    prompt_file: Path | None
    prompt: str | None


@dataclass(frozen=True)
class Agent:
    """One agent, fully resolved: its backend, argv, directory, session and watch settings."""

    name: str
    session: str
    kind: Kind
    role: str | None
    backend: str
    model: str
    enabled: bool
    watch: Watch
    resume: bool
    dir: Path
    prompt: str | None
    prompt_file: Path | None
    wake: Wake | None
    after: tuple[str, ...]
    env: Mapping[str, str]
    args: tuple[str, ...] = ()
    unattended: bool = False
    timeout: float | None = None  # task: seconds an attempt may run
    retries: int = 0  # task: attempts after the first
    account: str = ""  # agents of one account share usage limits
    worktree: WorktreeSpec | None = None  # runs in its own git worktree of `dir`
    hooks: HooksSpec | None = None
    vars: Mapping[str, str] = field(default_factory=dict)  # for {{key}} (template variables)
    # prompt, args and dir as written, before {{key}} was filled in: `run --var` fills them anew
    written: tuple[str | None, tuple[str, ...], str] | None = None

    @property
    def home_dir(self) -> Path:
        """The directory the agent's program runs in: its worktree when it has one."""
        return self.dir if self.worktree is None or self.worktree.path is None else Path(self.worktree.path)


@dataclass(frozen=True)
class Service:
    """One service: a plain program kept running in its own session."""

    name: str
    session: str
    argv: tuple[str, ...]
    dir: Path
    enabled: bool
    env: Mapping[str, str]


@dataclass(frozen=True)
class Config:
    """agents.toml, loaded, validated and resolved; immutable."""

    path: Path
    base_dir: Path
    log_dir: Path
    state_dir: Path
    session_prefix: str
    log_max_bytes: int
    log_backups: int
    tmux: TmuxSettings
    watchdog: WatchdogSettings
    loop: LoopSpec
    notify: NotifySpec
    backends: Mapping[str, Backend]
    agents: Mapping[str, Agent]
    services: Mapping[str, Service]
    prompts_dir: Path
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def watchdog_session(self) -> str:
        return self.session_prefix + "watchdog"

    def socket(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get("AGENTSUP_SOCKET") or self.tmux.socket

    def backend_of(self, agent: Agent) -> Backend:
        return self.backends[agent.backend]

    def resolve(self, relative: str) -> Path:
        return resolve_path(self.base_dir, relative)

    @property
    def journal_path(self) -> Path:
        """The watchdog's journal (events.jsonl in the log directory)."""
        return journal_path(self.log_dir)

    def journal(self, clock: Callable[[], float] = time.time) -> Journal:
        """The journal, opened as every process opens it (rotated under the state directory's lock)."""
        return open_journal(self.log_dir, self.state_dir, self.watchdog.journal_max_bytes, clock)


class Backends(Mapping[str, Backend]):
    """Every preset and [backend.NAME] table, resolved (and its patterns compiled) when first asked
    for: a command that touches one backend does not pay for compiling all of them."""

    def __init__(self, tables: Mapping[str, BackendSpec]) -> None:
        self.tables = tables
        self.names = sorted(set(PRESETS) | set(tables))
        self.resolved: dict[str, Backend] = {}

    def __getitem__(self, name: str) -> Backend:
        if name not in self.resolved:
            if name not in self.names:
                raise KeyError(name)
            table = self.tables.get(name)
            self.resolved[name] = resolve_backend(name, vars(table) if table is not None else None)
        return self.resolved[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names


def resolve_path(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path)


def read_raw(path: Path, text: str | None = None) -> dict[str, Any]:
    try:
        if text is not None:
            return tomllib.loads(text)
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (use -c PATH, $AGENTSUP_CONFIG, or ./agents.toml)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def load_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    apply_overrides: bool = True,
    text: str | None = None,
) -> Config:
    """Read, validate and resolve agents.toml. AGENT_MODEL_<name>/AGENT_BACKEND_<name> apply unless
    `apply_overrides` is false (the watchdog ignores one-off overrides, as the seed does). `text`
    stands in for the file's content (the last valid copy), paths still resolve beside `path`."""
    cfg_path = Path(path).expanduser().absolute()
    raw = inherit_defaults(templates.expand(read_raw(cfg_path, text)))
    problems = Problems()
    model = convert(ConfigFile, raw, "", problems)
    if problems or model is None:
        raise ConfigError(f"{cfg_path}: invalid config:\n" + "\n".join(f"  - {p}" for p in problems))
    env = os.environ if environ is None else environ
    return build_config(cfg_path, model, env if apply_overrides else {}, raw)


def inherit_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """[defaults] keys an [[agent]] does not set are copied into it (as the seed does)."""
    defaults, agents = raw.get("defaults"), raw.get("agent")
    if not isinstance(defaults, dict) or not isinstance(agents, list):
        return raw
    merged = [{**{k: defaults[k] for k in INHERITED_AGENT_KEYS if k in defaults and k not in a}, **a}
              if isinstance(a, dict) else a for a in agents]
    return {**raw, "agent": merged}


def build_config(cfg_path: Path, model: ConfigFile, environ: Mapping[str, str], raw: Mapping[str, Any]) -> Config:
    base = cfg_path.parent
    problems: list[str] = []
    defaults = model.defaults

    backends = Backends(model.backend)
    for name, table in model.backend.items():
        if name not in PRESETS and not table.bin:
            problems.append(f"backend.{name}.bin: required for a backend that is not a preset "
                            f"({', '.join(sorted(PRESETS))})")

    # State belongs to its config: without an explicit log_dir (and socket) each config gets its own,
    # so two projects never share a watchdog, a lock, records, worktrees or session names.
    digest = config_digest(cfg_path)
    log_dir = (resolve_path(base, defaults.log_dir) if was_set(raw, "defaults", "log_dir")
               else state_home() / f"{slug(base.name)}-{digest}")
    overrides: dict[str, str] = {}
    agents: dict[str, Agent] = {}
    taken: dict[str, str] = {}
    for i, spec in enumerate(model.agent):
        where = f"agent[{i}] ({spec.name})"
        problem = templates.template_problem(spec.template, list(model.template))
        if problem:
            problems.append(f"{where}.template: {problem}")
        agent = _resolve_agent(spec, base, defaults.session_prefix, environ, overrides, log_dir / "state")
        if spec.template or spec.vars:
            problems += _template_problems(where, spec, agent)
        if spec.name in agents or spec.name in RESERVED_NAMES:
            problems.append(f"{where}.name: duplicate or reserved name {spec.name!r}")
        if agent.backend not in backends:
            problems.append(f"{where}.backend: unknown backend {agent.backend!r}"
                            f"{suggest(agent.backend, list(backends))}")
        _check_session(where, agent.session, taken, problems)
        problems += _check_agent_files(where, agent, base)
        agents[spec.name] = agent

    services: dict[str, Service] = {}
    for i, svc in enumerate(model.service):
        where = f"service[{i}] ({svc.name})"
        if svc.name in agents or svc.name in services or svc.name in RESERVED_NAMES:
            problems.append(f"{where}.name: duplicate or reserved name {svc.name!r}")
        argv = tuple(_split_command(svc.command, f"{where}.command", problems))
        session = svc.session or defaults.session_prefix + svc.name
        _check_session(where, session, taken, problems)
        services[svc.name] = Service(
            name=svc.name, session=session, argv=argv, enabled=svc.enabled, env=dict(svc.env),
            dir=resolve_path(base, svc.dir if was_set(raw, "service", i, "dir") else (defaults.dir or ".")),
        )
    _check_session("defaults.session_prefix", defaults.session_prefix + "watchdog", taken, problems)
    problems += _check_loop(model, agents)
    if problems:
        raise ConfigError(f"{cfg_path}: invalid config:\n" + "\n".join(f"  - {p}" for p in problems))

    tmux = model.tmux if was_set(raw, "tmux", "socket") else replace(model.tmux, socket=f"agentsup-{digest}")
    return Config(
        path=cfg_path, base_dir=base, log_dir=log_dir, state_dir=log_dir / "state",
        session_prefix=defaults.session_prefix, log_max_bytes=defaults.log_max_bytes,
        log_backups=defaults.log_backups, tmux=tmux, watchdog=model.watchdog, loop=model.loop, notify=model.notify,
        backends=backends, agents=agents, services=services, prompts_dir=base / "prompts",
        overrides=overrides,
    )


def _template_problems(where: str, spec: AgentSpec, agent: Agent) -> list[str]:
    known = templates.values(spec.name, spec.vars)
    fields = {"prompt": spec.prompt, "dir": spec.dir, **{f"args[{i}]": a for i, a in enumerate(spec.args)}}
    found = templates.problems(where, fields, known)
    if agent.prompt_file is not None and agent.prompt_file.is_file():
        found += templates.problems(where, {"prompt_file": agent.prompt_file.read_text(encoding="utf-8",
                                                                                        errors="replace")}, known)
    return found


def with_vars(agent: Agent, extra: Mapping[str, str], base: Path) -> Agent:
    """`agent` for one run with `extra` vars (`agentsup run TASK --var k=v`)."""
    if not extra or agent.written is None:
        return agent
    known = {**agent.vars, **extra}
    prompt, args, folder = agent.written
    return dataclasses.replace(
        agent, vars=known, prompt=templates.fill(prompt, known) if prompt is not None else None,
        args=tuple(templates.fill(a, known) for a in args), dir=resolve_path(base, templates.fill(folder, known)))


def _resolve_agent(
    spec: AgentSpec, base: Path, prefix: str, environ: Mapping[str, str], overrides: dict[str, str],
    state_dir: Path,
) -> Agent:
    model, backend = spec.model, spec.backend
    if environ.get(f"AGENT_MODEL_{spec.name}"):
        model = overrides[f"AGENT_MODEL_{spec.name}"] = environ[f"AGENT_MODEL_{spec.name}"]
    if environ.get(f"AGENT_BACKEND_{spec.name}"):
        backend = overrides[f"AGENT_BACKEND_{spec.name}"] = environ[f"AGENT_BACKEND_{spec.name}"]
    wake = None
    if spec.wake is not None:
        wake = Wake(
            interval=spec.wake.interval,
            prompt_file=resolve_path(base, spec.wake.prompt_file) if spec.wake.prompt_file else None,
            prompt=spec.wake.prompt,
        )
    known = templates.values(spec.name, spec.vars) if spec.template or spec.vars else {}
    prompt = templates.fill(spec.prompt, known) if spec.prompt is not None and known else spec.prompt
    args = tuple(templates.fill(a, known) for a in spec.args) if known else tuple(spec.args)
    folder = resolve_path(base, templates.fill(spec.dir, known) if known else spec.dir)
    worktree = None
    if spec.worktree is not False:
        chosen = spec.worktree if isinstance(spec.worktree, WorktreeSpec) else WorktreeSpec()
        where = resolve_path(base, chosen.path) if chosen.path else StateDir(state_dir).worktrees_dir() / spec.name
        worktree = replace(chosen, branch=chosen.branch.replace("{name}", spec.name), path=str(where))
    return Agent(
        name=spec.name, session=spec.session or prefix + spec.name, kind=spec.kind, role=spec.role,
        backend=backend, model=model, enabled=spec.enabled, watch=spec.watch, resume=spec.resume,
        dir=folder, prompt=prompt,
        prompt_file=resolve_path(base, spec.prompt_file) if spec.prompt_file else None,
        wake=wake, after=tuple(spec.after), env=dict(spec.env), args=args, unattended=spec.unattended,
        timeout=spec.timeout, retries=spec.retries, account=spec.account or backend, worktree=worktree,
        hooks=spec.hooks, vars=known, written=(spec.prompt, tuple(spec.args), spec.dir) if known else None,
    )


def _check_session(where: str, session: str, taken: dict[str, str], problems: list[str]) -> None:
    try:
        check_session(session)
    except ValueError as exc:
        problems.append(f"{where}: session {exc}")
        return
    if session in taken:
        problems.append(f"{where}: session {session!r} is also used by {taken[session]}")
    taken[session] = where


def _check_agent_files(where: str, agent: Agent, base: Path) -> list[str]:
    problems: list[str] = []
    if agent.prompt_file is not None and not agent.prompt_file.is_file():
        problems.append(f"{where}.prompt_file: file not found: {agent.prompt_file}")
    if agent.prompt is not None and agent.prompt_file is not None:
        problems.append(f"{where}: set prompt or prompt_file, not both")
    if agent.wake is not None:
        if agent.wake.prompt_file is not None and not agent.wake.prompt_file.is_file():
            problems.append(f"{where}.wake.prompt_file: file not found: {agent.wake.prompt_file}")
        if agent.wake.prompt_file is None and not agent.wake.prompt:
            problems.append(f"{where}.wake: needs prompt_file or prompt")
    if agent.kind == "loop":
        if not agent.role:
            problems.append(f"{where}.role: a loop agent needs a role (prompts/<role>.md)")
        elif not (base / "prompts" / f"{agent.role}.md").is_file():
            problems.append(f"{where}.role: prompt file not found: {base / 'prompts' / (agent.role + '.md')}")
    if agent.after and agent.kind != "task":
        problems.append(f"{where}.after: only task agents can wait for other tasks")
    return problems


def _check_loop(model: ConfigFile, agents: Mapping[str, Agent]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, phase in enumerate(model.loop.phases):
        if phase.id in seen:
            problems.append(f"loop.phases[{i}].id: duplicate phase id {phase.id!r}")
        seen.add(phase.id)
    for name, agent in agents.items():
        for j, dep in enumerate(agent.after):
            if dep not in agents:
                problems.append(f"agent ({name}).after[{j}]: unknown agent {dep!r}{suggest(dep, list(agents))}")
            elif agents[dep].kind != "task":
                problems.append(f"agent ({name}).after[{j}]: {dep!r} is not a task")
    problems += _dependency_cycles(agents)
    oc = model.loop.on_complete
    if oc is not None and oc.run not in agents:
        problems.append(f"loop.on_complete.run: unknown agent {oc.run!r}{suggest(oc.run, list(agents))}")
    return problems


def _dependency_cycles(agents: Mapping[str, Agent]) -> list[str]:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> str | None:
        if state.get(name) == 2 or name not in agents:
            return None
        if state.get(name) == 1:
            return " -> ".join([*trail[trail.index(name):], name])
        state[name] = 1
        for dep in agents[name].after:
            found = visit(dep, [*trail, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in agents:
        cycle = visit(name, [])
        if cycle:
            return [f"agent ({name}).after: dependency cycle {cycle}"]
    return []


def _split_command(command: str | list[str], where: str, problems: list[str]) -> list[str]:
    try:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        problems.append(f"{where}: cannot split {command!r}: {exc}")
        return []
    if not argv:
        problems.append(f"{where}: empty command")
    return argv
