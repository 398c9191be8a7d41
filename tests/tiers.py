"""The suite's tiers: what each test needs, installing it where this machine can, and saying plainly
what did not run.

A test's tier is a marker: `pure` (no process started), `tmux` (real processes: tmux servers, the
CLI, git), `realcli` (the pinned agent CLIs from npm, as root), `fleet` (sshd and Unix users, as
root), `browser` (Debian's chromium through Playwright). A test marked with none is given one from
the fixtures it asks for, and a `pure` test that starts a process fails, so the marker stays true.

Before the first test, the controlling pytest process installs what the selected tiers need and
the machine lacks: as root on Debian/Ubuntu with apt-get, then the pinned agent CLIs with npm.
Where it cannot, each test that needs a missing part is skipped, one summary line per part says
what is missing and how to get it, and the run's last line says that tests did not run. With
`CI=true` (or `--require-all-tiers`) such a test fails instead, so CI can never go green by not
running it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest


class Tier(StrEnum):
    PURE = "pure"
    TMUX = "tmux"
    REALCLI = "realcli"
    FLEET = "fleet"
    BROWSER = "browser"


TIER_HELP = {
    Tier.PURE: "no process started: pure functions, fakes and the scripted tmux",
    Tier.TMUX: "real processes: private tmux servers, the agentsup CLI, git",
    Tier.REALCLI: "the pinned agent CLIs (npm) against the mock API, in a loopback-only namespace; needs root",
    Tier.FLEET: "hosts behind real sshds on 127.0.0.1, each a Unix user of its own; needs root",
    Tier.BROWSER: "the web view in Debian's chromium, driven by Playwright",
}

# A test that asks for one of these fixtures and carries no tier marker is of that tier.
FIXTURE_TIERS = {
    "real_clis": Tier.REALCLI, "mock_api": Tier.REALCLI,
    "lab": Tier.FLEET, "venv": Tier.FLEET,
    "browser_page": Tier.BROWSER,
    "project": Tier.TMUX, "real_tmux": Tier.TMUX, "server": Tier.TMUX, "session": Tier.TMUX,
    "fleet_of": Tier.TMUX, "private_tmux_dir": Tier.TMUX, "git_identity": Tier.TMUX,
}
RANK = [Tier.PURE, Tier.TMUX, Tier.BROWSER, Tier.REALCLI, Tier.FLEET]  # a test needing several: the heaviest


def _system_python() -> bool:
    return any(os.access(f"/usr/bin/python3.{minor}", os.X_OK) for minor in range(11, 20))


def _clis_installed() -> bool:
    from .realcli.clis import PINNED

    return all(cli.bin.exists() for cli in PINNED)


def _playwright() -> bool:
    import importlib.util

    return importlib.util.find_spec("playwright") is not None


@dataclass(frozen=True)
class Part:
    """One thing a tier needs from the machine: how to tell it is there, and how to get it."""

    name: str
    present: Callable[[], bool]
    apt: tuple[str, ...] = ()  # Debian packages that provide it (installed as root)
    hint: str = ""

    def how(self) -> str:
        return self.hint or f"as root: apt-get install {' '.join(self.apt)}"


ROOT = Part("root", lambda: os.geteuid() == 0, hint="run the suite as root (network namespaces, Unix users)")
TMUX = Part("tmux", lambda: shutil.which("tmux") is not None, ("tmux",))
GIT = Part("git", lambda: shutil.which("git") is not None, ("git",))
SSHD = Part("openssh-server", lambda: os.access("/usr/sbin/sshd", os.X_OK), ("openssh-server",))
SSH = Part("ssh client", lambda: shutil.which("ssh") is not None, ("openssh-client",))
SYSTEM_PYTHON = Part("a system Python 3.11+ in /usr/bin", _system_python, ("python3",))
NPM = Part("npm", lambda: shutil.which("npm") is not None, ("nodejs", "npm"))
CLIS = Part("the pinned agent CLIs", _clis_installed, hint="with npm: uv run python -m tests.realcli.clis")
CHROMIUM = Part("chromium", lambda: os.access("/usr/bin/chromium", os.X_OK), ("chromium",))
PLAYWRIGHT = Part("playwright (Python)", _playwright, hint="uv sync (it is in the dev group)")

NEEDS: dict[Tier, tuple[Part, ...]] = {
    Tier.PURE: (),
    Tier.TMUX: (TMUX, GIT),
    Tier.REALCLI: (TMUX, GIT, ROOT, NPM, CLIS),
    Tier.FLEET: (TMUX, GIT, ROOT, SSHD, SSH, SYSTEM_PYTHON),
    Tier.BROWSER: (TMUX, GIT, CHROMIUM, PLAYWRIGHT),
}


def strict(config: pytest.Config) -> bool:
    """A missing part fails the tests that need it (CI), rather than skipping them."""
    ci = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
    return ci or bool(config.getoption("require_all_tiers"))


def selected_tiers(config: pytest.Config) -> list[Tier]:
    """The tiers `-m` can select (every tier when there is no -m)."""
    expr = config.option.markexpr
    if not expr:
        return list(Tier)
    try:
        from _pytest.mark.expression import Expression  # pytest's own -m parser

        compiled = Expression.compile(expr)
        def only(tier: Tier) -> Any:
            return lambda name, /, **_: name == tier.value

        return [tier for tier in Tier if compiled.evaluate(only(tier))]
    except Exception:
        return list(Tier)


def say(line: str) -> None:
    print(f"tests: {line}", file=sys.__stderr__, flush=True)


def provision(tiers: list[Tier]) -> None:
    """Install what `tiers` need and the machine lacks, where it can: apt-get as root, then npm."""
    wanted = [part for tier in tiers for part in NEEDS[tier]]
    missing = list(dict.fromkeys(part for part in wanted if not part.present()))
    packages = list(dict.fromkeys(pkg for part in missing for pkg in part.apt))
    if packages and os.geteuid() == 0 and shutil.which("apt-get"):
        started = time.monotonic()
        say(f"installing {', '.join(packages)} with apt-get (once per machine)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            say(f"apt-get install failed: {done.stderr.strip().splitlines()[-1:]}")
        else:
            say(f"installed in {time.monotonic() - started:.0f} s")
    if CLIS in missing and NPM.present():
        install_clis()
    if Tier.FLEET in tiers and all(part.present() for part in NEEDS[Tier.FLEET]):
        build_fleet_venv()


def build_fleet_venv() -> None:
    """The fleet hosts' Python environment, built once for the run while the package index is
    reachable; the workers find it through the environment they inherit."""
    import tempfile

    from .fleet.sshhosts import FLEET_VENV, agentsup_venv

    started = time.monotonic()
    where = Path(tempfile.mkdtemp(prefix="as-venv-"))
    try:
        os.environ[FLEET_VENV] = str(agentsup_venv(where))
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        say(f"the fleet hosts' environment could not be built: {exc}")
        shutil.rmtree(where, ignore_errors=True)
        return
    _built.append(where)
    say(f"fleet hosts' environment built in {time.monotonic() - started:.0f} s")


_built: list[Path] = []


def pytest_unconfigure(config: pytest.Config) -> None:
    for where in _built:
        shutil.rmtree(where, ignore_errors=True)


def install_clis() -> None:
    from .realcli.clis import PINNED

    started = time.monotonic()
    todo = [cli for cli in PINNED if not cli.bin.exists()]
    say(f"installing {', '.join(f'{c.package}@{c.version}' for c in todo)} with npm (cached after)")
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        for cli, error in zip(todo, pool.map(_try_install, todo), strict=True):
            if error:
                say(f"npm install {cli.package}@{cli.version} failed: {error}")
    say(f"agent CLIs ready in {time.monotonic() - started:.0f} s")


def _try_install(cli: Any) -> str:
    try:
        cli.install()
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ""


def tiers_of(item: pytest.Item) -> list[Tier]:
    """Its tier markers, else the tiers of the fixtures it asks for, else pure."""
    marked = [Tier(m.name) for m in item.iter_markers() if m.name in Tier.__members__.values()]
    if not marked:
        fixtures = getattr(item, "fixturenames", ())
        marked = [FIXTURE_TIERS[name] for name in fixtures if name in FIXTURE_TIERS] or [Tier.PURE]
    return sorted(set(marked), key=RANK.index)


def tier_of(item: pytest.Item) -> Tier:
    """The heaviest of its tiers: the one it is listed under."""
    return tiers_of(item)[-1]


# -- hooks (tests/conftest.py imports them) ---------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--require-all-tiers", action="store_true",
                     help="fail (not skip) a test whose tier needs something this machine lacks (CI=true does this)")


def pytest_configure(config: pytest.Config) -> None:
    for tier in Tier:
        config.addinivalue_line("markers", f"{tier}: {TIER_HELP[tier]}")
    if hasattr(config, "workerinput") or config.option.collectonly:
        return  # an xdist worker: the controller provisioned before starting it
    provision(selected_tiers(config))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in tiers_of(item):
            if not item.get_closest_marker(tier.value):
                item.add_marker(getattr(pytest.mark, tier.value))  # a plain str: xdist sends names


NOT_RUN = "not run, missing "


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    tier = tier_of(item)
    needed = dict.fromkeys(part for each in tiers_of(item) for part in NEEDS[each])
    lacking = next((part for part in needed if not part.present()), None)
    if lacking is None:
        return
    reason = f"{NOT_RUN}{lacking.name} ({tier} tier): {lacking.how()}"
    if strict(item.config):
        pytest.fail(reason.replace("not run, missing", "missing"), pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _pure_starts_no_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """A `pure` test that starts a process fails: its marker would be a lie."""
    if request.node.get_closest_marker(Tier.PURE.value) is None:
        yield
        return

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a test in the pure tier started a process: mark it `tmux` (or ask for a fixture that is)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", refuse)
        patch.setattr(os, "fork", refuse)
        patch.setattr(os, "posix_spawn", refuse)
        yield


_not_run: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if reason.startswith(NOT_RUN):
            _not_run[reason] += 1


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    result = yield  # the terminal reporter's summary, its last line included, is written inside
    if _not_run and not hasattr(session.config, "workerinput"):
        writer = session.config.get_terminal_writer()
        writer.line("")
        for reason, count in sorted(_not_run.items()):
            writer.line(f"{count} test(s) {reason}")
        writer.line(f"NOT ALL RUN: {sum(_not_run.values())} test(s) need what this machine lacks (above)",
                    yellow=True, bold=True)
    return result

