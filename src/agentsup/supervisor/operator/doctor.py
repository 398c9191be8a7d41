"""`agentsup doctor`: the preflight a person runs on a new server. One line per check, ok / warn /
FAIL; it reads and never changes anything."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from agentsup.agents.verified import VERIFIED, judge
from agentsup.config.load import Config
from agentsup.errors import AgentsupError


class Level(StrEnum):
    """How a doctor check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of `agentsup doctor`."""

    name: str
    level: Level
    detail: str


def run_checks(cfg: Config | None, config_path: Path, config_error: str | None = None) -> list[Check]:
    """Every preflight check for `cfg` (None when it does not load: then `config_error` says why)."""
    from agentsup import __version__

    checks = [Check("agentsup", Level.OK, f"{__version__} ({sys.executable})"),
              Check("config", Level.FAIL, config_error or f"{config_path}: not loaded") if cfg is None
              else Check("config", Level.OK, f"{config_path} is valid")]
    checks.append(_tmux(cfg.tmux.bin if cfg else "tmux"))
    if cfg is None:
        return checks
    checks += _binaries(cfg)
    from agentsup.supervisor.processes.start_stop import root_refusals

    checks += [Check("root", Level.FAIL, warning) for warning in root_refusals(cfg)]
    from agentsup.supervisor.processes.start_stop import auto_continue_notes, unjudged_starts

    checks += [Check("claude auto-continue", Level.WARN, note) for note in auto_continue_notes(cfg)]
    checks += [Check("start timeout", Level.WARN, note) for note in unjudged_starts(cfg)]
    checks += [_private(what, path) for what, path in (("log dir", cfg.log_dir), ("state dir", cfg.state_dir))]
    checks += _shared_dirs(cfg)
    checks.append(_watchdog(cfg))
    checks += _systemd()
    checks += _logout()
    return checks


def _tmux(binary: str) -> Check:
    from agentsup.tmux.client import tmux_version

    try:
        return Check("tmux", Level.OK, f"tmux {tmux_version(binary)}")
    except AgentsupError as exc:
        return Check("tmux", Level.FAIL, str(exc))


def _binaries(cfg: Config) -> list[Check]:
    checks = []
    for backend_name in sorted({a.backend for a in cfg.agents.values() if a.enabled}):
        program = cfg.backends[backend_name].program_argv()[0]
        found = shutil.which(program)
        users = ", ".join(a.name for a in cfg.agents.values() if a.backend == backend_name and a.enabled)
        checks.append(Check(f"{backend_name} binary", Level.OK if found else Level.FAIL,
                            f"{found} (for {users})" if found else f"{program!r} not found on PATH (for {users})"))
        preset = cfg.backends[backend_name].name
        if found and preset in VERIFIED:
            checks.append(_version(backend_name, preset, found))
    return checks


def _version(backend_name: str, preset: str, program: str) -> Check:
    """The installed CLI's version against the range agentsup was checked with."""
    import subprocess

    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(f"{backend_name} version", Level.WARN, f"{program} --version failed: {exc}")
    text = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""
    problem = judge(preset, text)
    if problem:
        return Check(f"{backend_name} version", Level.WARN, problem)
    known = VERIFIED[preset]
    return Check(f"{backend_name} version", Level.OK,
                 f"{text or '?'} (checked with {known.oldest}" + (f" to {known.newest})" if known.newest != known.oldest
                                                               else ")"))


def _private(what: str, path: Path) -> Check:
    try:
        st = path.stat()
    except FileNotFoundError:
        return Check(what, Level.OK, f"{path} does not exist yet (created 0700 on first start)")
    except OSError as exc:
        return Check(what, Level.FAIL, f"{path}: {exc.strerror}")
    problems = []
    if st.st_uid != os.getuid():
        problems.append(f"owned by uid {st.st_uid}, not you ({getpass.getuser()})")
    if stat.S_IMODE(st.st_mode) & 0o077:
        problems.append(f"mode {oct(stat.S_IMODE(st.st_mode))}: others can read prompts and logs (chmod 700)")
    return Check(what, Level.WARN if problems else Level.OK, f"{path}: " + ("; ".join(problems) or "0700, yours"))


def _shared_dirs(cfg: Config) -> list[Check]:
    by_dir: dict[Path, list[str]] = {}
    for agent in cfg.agents.values():
        if agent.enabled and agent.kind != "task":
            by_dir.setdefault(agent.home_dir.resolve(), []).append(agent.name)
    shared = {d: names for d, names in by_dir.items() if len(names) > 1}
    if not shared:
        return [Check("working dirs", Level.OK, "every agent has its own")]
    return [Check("working dirs", Level.WARN, f"{', '.join(names)} share {d} (their edits can collide)")
            for d, names in shared.items()]


def _watchdog(cfg: Config) -> Check:
    from agentsup.store.state import FileLock, StateDir
    from agentsup.supervisor.operator.status import read_object

    state = StateDir(cfg.state_dir)
    lock = FileLock(state.watchdog_lock())
    if not lock.is_held():
        return Check("watchdog", Level.WARN, "not running (`agentsup up` starts it, or run it under systemd)")
    info = read_object(state.watchdog_status())
    last = info.get("last_tick")
    try:
        age = time.time() - datetime.fromisoformat(str(last)).timestamp()
    except ValueError:
        return Check("watchdog", Level.WARN, f"running (pid {lock.holder_pid()}) but it has not ticked yet")
    degraded = info.get("degraded") or {}
    if age > max(60.0, 3 * cfg.watchdog.poll_interval):
        return Check("watchdog", Level.FAIL, f"pid {lock.holder_pid()} has not ticked for {int(age)}s")
    if degraded:
        return Check("watchdog", Level.WARN, f"pid {lock.holder_pid()} is degraded: {degraded}")
    return Check("watchdog", Level.OK, f"pid {lock.holder_pid()}, last tick {int(age)}s ago")


def _systemd() -> list[Check]:
    unit = Path(os.path.expanduser("~/.config/systemd/user/agentsup-watchdog.service"))
    if not unit.exists():
        return []
    linger = Path("/var/lib/systemd/linger") / getpass.getuser()
    from agentsup.supervisor.processes.start_stop import WATCHDOG_UNIT, systemd_user

    enabled = ""
    if systemd_user():
        import subprocess

        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            enabled = subprocess.run(["systemctl", "--user", "is-enabled", WATCHDOG_UNIT], capture_output=True,
                                     text=True, timeout=5).stdout.strip()
    if enabled and enabled != "enabled":
        unit_check = Check("systemd unit", Level.WARN, f"{unit} is {enabled}: systemctl --user enable {WATCHDOG_UNIT}")
    else:
        unit_check = Check("systemd unit", Level.OK, f"{unit}" + (" (enabled)" if enabled else ""))
    return [unit_check,
            Check("linger", Level.OK if linger.exists() else Level.WARN,
                  "enabled" if linger.exists() else "off: the watchdog stops at logout (loginctl enable-linger)")]


def kills_at_logout(etc: Path = Path("/etc/systemd")) -> bool:
    """Does systemd-logind end a user's processes when their last session ends (KillUserProcesses)?"""
    if not Path("/run/systemd/system").is_dir():
        return False  # not booted with systemd: nothing ends a session's daemons
    setting = False
    for conf in [etc / "logind.conf", *sorted((etc / "logind.conf.d").glob("*.conf"))]:
        with contextlib.suppress(OSError):
            for line in conf.read_text(encoding="utf-8").splitlines():
                key, _, value = line.strip().partition("=")
                if key.strip() == "KillUserProcesses":
                    setting = value.strip().lower() in ("yes", "true", "1", "on")
    return setting


def _logout() -> list[Check]:
    """Agents started from an ssh login die with it where logind kills a session's processes."""
    if not kills_at_logout():
        return []
    user = getpass.getuser()
    if (Path("/var/lib/systemd/linger") / user).exists():
        return [Check("logout", Level.OK, "logind ends sessions' processes, but linger keeps this user's running")]
    return [Check("logout", Level.WARN, "logind ends a session's processes at logout (KillUserProcesses=yes): agents "
                  f"started from an ssh login die with it; `loginctl enable-linger {user}` and run the watchdog "
                  "under its systemd user unit")]
