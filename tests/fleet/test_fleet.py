"""`agentsup fleet` against real hosts: each one a Unix user behind its own sshd on 127.0.0.1 (see
sshhosts.py), reached with the system's ssh, running this working tree's agentsup."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import wait_for
from .sshhosts import FLEET_VENV, SshLab, agentsup_venv

pytestmark = pytest.mark.timeout(240)


def agents(*names: str) -> str:
    """A host's agents.toml: sim agents that record what they are told, on a tmux socket in its home."""
    return ('[tmux]\nsocket = "@HOME@/tmux.sock"\n\n[watchdog]\npoll_interval = 0.5\n\n'
            + "".join(f'[[agent]]\nname = "{n}"\nbackend = "sim"\nwatch = "heal"\nargs = ["--record", "{n}.jsonl"]\n\n'
                      for n in names))


@pytest.fixture(scope="session")
def venv() -> Iterator[Path]:
    """The hosts' Python environment: built by the suite's set-up before the tests (it needs the
    package index, and a test worker may be in the real-CLI tests' loopback-only namespace by now)."""
    prebuilt = os.environ.get(FLEET_VENV)
    if prebuilt:
        yield Path(prebuilt)
        return
    where = Path(tempfile.mkdtemp(prefix="as-venv-"))
    yield agentsup_venv(where)
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def lab(venv: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshLab]:
    root = Path(tempfile.mkdtemp(prefix="as-ssh-"))
    root.chmod(0o755)
    client = root / "client"
    client.mkdir()
    monkeypatch.setenv("HOME", str(client))  # the operator: shared connections go under it
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("AGENTSUP_CONFIG", raising=False)
    lab = SshLab(root, venv)
    try:
        yield lab
    finally:
        masters = client / ".cache" / "agentsup" / "ssh"
        for sock in masters.glob("*") if masters.is_dir() else []:
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=10)
        lab.close()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def fleet(lab: SshLab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "agentsup", "fleet", *args, "--fleet", str(lab.root / "fleet.toml")],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:  # shown when the test fails: what each host was doing
        print(f"fleet {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
        users = ",".join(h.user for h in lab.hosts.values())
        print(subprocess.run(["ps", "-o", "pid,ppid,user:16,stat,etime,wchan:24,args", "-u", users],
                             capture_output=True, text=True).stdout)
    return done


def rows(lab: SshLab) -> dict[str, Any]:
    """HOST:NAME → the agent's status row, from `fleet status --json`."""
    out = fleet(lab, "status", "--json")
    data = json.loads(out.stdout)
    return {f"{h['host']}:{a['name']}": a for h in data["hosts"] if h["result"] for a in h["result"]["agents"]}


def received(lab: SshLab, host: str, agent: str) -> list[str]:
    path = lab.hosts[host].home / f"{agent}.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines()] if path.exists() else []


def test_fleet_status_shows_every_host_s_agents_heals_them_and_names_a_dead_host(lab: SshLab) -> None:
    lab.add("h1", agents("builder", "adversary"))
    lab.add("h2", agents("builder"))
    lab.add("h3", agents("solo"))
    lab.fleet_toml(timeout=20)
    up = fleet(lab, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert up.stdout.count("watchdog  started") == 3
    wait_for(lambda: [r["state"] for r in rows(lab).values()] == ["RUNNING"] * 4, timeout=30, interval=0.5)
    shown = fleet(lab, "status")
    assert shown.returncode == 0, shown.stderr
    table = [line.split()[:4] for line in shown.stdout.splitlines()[1:5]]
    assert [r[:2] for r in table] == [["h1", "builder"], ["h1", "adversary"], ["h2", "builder"], ["h3", "solo"]]
    victim = rows(lab)["h2:builder"]["pid"]
    os.kill(victim, signal.SIGKILL)  # an agent dies on one host: its own watchdog brings it back
    wait_for(lambda: (r := rows(lab)["h2:builder"])["pid"] not in (victim, None) and r["state"] == "RUNNING",
             timeout=30, interval=0.5)
    lab.stop("h3")
    down = fleet(lab, "status")
    assert down.returncode == 1
    line = next(line for line in down.stdout.splitlines() if line.startswith("h3"))
    assert "unreachable: ssh: connect to host 127.0.0.1 port" in line and "Connection refused" in line
    assert sum(line.startswith(("h1 ", "h2 ")) for line in down.stdout.splitlines()) == 3, "the others are intact"
    refused = {h["host"]: h for h in json.loads(fleet(lab, "status", "--json").stdout)["hosts"]}["h3"]
    assert refused["seconds"] < 4, f"a refused host answers at once, not at its 20 s timeout: {refused}"


def test_a_wedged_host_is_abandoned_at_its_timeout_and_its_ssh_ended(lab: SshLab) -> None:
    lab.add("h1", agents("a"))
    lab.add("h2", agents("b"))
    lab.fleet_toml()  # starting watchdogs under the suite's load took over 3 s in CI
    assert fleet(lab, "up").returncode == 0
    assert fleet(lab, "status").returncode == 0  # the shared connections are up
    lab.fleet_toml(timeout=3)
    frozen = [lab.hosts["h2"].sshd.pid, *lab.sshd_children("h2")]  # type: ignore[union-attr]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        shown = fleet(lab, "status", "--json")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    hosts = {h["host"]: h for h in json.loads(shown.stdout)["hosts"]}
    assert shown.returncode == 1 and hosts["h2"]["error"] == "no answer within 3s (ssh ended)"
    assert hosts["h1"]["error"] is None and hosts["h1"]["result"]["agents"][0]["state"] == "RUNNING"
    # Given up on at its timeout and its ssh ended at once, as the fleet itself timed it. (The whole
    # command's time is the benchmark's to measure: under the test suite's load a process start alone
    # varied by seconds.)
    assert 3 <= hosts["h2"]["seconds"] < 3 + 2.5, hosts["h2"]["seconds"]
    stray = subprocess.run(["pgrep", "-f", f"-- h2 {lab.venv}"], capture_output=True, text=True).stdout.split()
    assert stray == [], "the abandoned ssh client was ended"


def test_fleet_ping_lands_in_the_named_agents_only(lab: SshLab) -> None:
    lab.add("h1", agents("builder", "adversary"))
    lab.add("h2", agents("builder"))
    lab.fleet_toml()
    assert fleet(lab, "up").returncode == 0
    wait_for(lambda: [r["state"] for r in rows(lab).values()] == ["RUNNING"] * 3, timeout=30, interval=0.5)
    sent = fleet(lab, "ping", "h1:builder", "h2:builder", "review gate 3; then $(stop)", "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    results = {r["host"]: r["result"] for r in json.loads(sent.stdout)}
    assert results["h1"]["result"] == "delivered" and results["h2"]["result"] == "delivered"
    wait_for(lambda: "review gate 3; then $(stop)" in received(lab, "h1", "builder"))
    wait_for(lambda: "review gate 3; then $(stop)" in received(lab, "h2", "builder"))
    assert "review gate 3; then $(stop)" not in received(lab, "h1", "adversary")
    unknown = fleet(lab, "ping", "h1:nobody", "hello")
    assert unknown.returncode == 1 and "h1  ping failed: exit 3: " in unknown.stdout and "nobody" in unknown.stdout


def test_agents_outlive_the_ssh_sessions_that_started_them(lab: SshLab) -> None:
    lab.add("h1", agents("a", "b"))
    lab.fleet_toml()
    assert fleet(lab, "up").returncode == 0
    wait_for(lambda: [r["state"] for r in rows(lab).values()] == ["RUNNING"] * 2, timeout=30, interval=0.5)
    before = {k: r["pid"] for k, r in rows(lab).items()}
    for sock in (lab.root / "client" / ".cache" / "agentsup" / "ssh").glob("*"):  # the operator logs out
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=10)
    for pid in lab.sshd_children("h1"):  # and every session of theirs on the host is cut
        os.kill(pid, signal.SIGKILL)
    time.sleep(2)
    for pid in before.values():
        assert Path(f"/proc/{pid}").exists(), f"agent program {pid} ended with the ssh session"
    assert {k: r["pid"] for k, r in rows(lab).items()} == before, "the same programs, none restarted"


def test_nothing_from_a_config_value_or_a_target_reaches_a_shell(lab: SshLab) -> None:
    lab.add("h1", agents("a"))
    lab.fleet_toml(extra='[[host]]\nname = "odd"\nssh = "h1"\n'
                         f'ssh_options = ["-F", "{lab.ssh_config}"]\n'
                         'config = "agents.toml; touch PWNED-config"\n'
                         f'agentsup = "{lab.venv}/bin/agentsup"\n')
    home = lab.hosts["h1"].home
    shown = fleet(lab, "status", "odd")
    assert shown.returncode == 1 and "agents.toml; touch PWNED-config: config file not found" in shown.stdout
    pinged = fleet(lab, "ping", "h1:$(touch PWNED-name)", "`touch PWNED-text`")
    assert pinged.returncode == 1
    assert not list(home.glob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def test_fleet_doctor_checks_login_version_and_watchdog_per_host(lab: SshLab) -> None:
    lab.add("h1", agents("a"))
    lab.add("h2", agents("b"))
    lab.fleet_toml()
    assert fleet(lab, "up", "h1:").returncode == 0
    lab.stop("h2")
    checked = fleet(lab, "doctor", "--json")
    assert checked.returncode == 1, "a host that cannot be reached fails the doctor"
    found = {(c["host"], c["name"]): c for c in json.loads(checked.stdout)}
    assert found[("h1", "ssh login")]["level"] == "ok"
    from agentsup import __version__

    assert found[("h1", "agentsup")]["detail"].startswith(__version__) and ("h1", "version") not in found
    assert found[("h1", "watchdog")]["level"] == "ok"
    assert found[("h2", "ssh login")]["level"] == "fail" and "unreachable" in found[("h2", "ssh login")]["detail"]


# Ctrl-C works as at a terminal: a child started while another thread of this worker was inside
# system() (or from a shell's background job) inherits SIGINT ignored, and Python keeps it so.
AT_A_TERMINAL = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                 "from agentsup.cli import main; sys.argv[0] = 'agentsup'; main()")


def follower(lab: SshLab, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", AT_A_TERMINAL, "fleet", *args, "--fleet", str(lab.root / "fleet.toml")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stopped_by(proc: subprocess.Popen[str], sig: int, pattern: str) -> None:
    """`sig` ends a follow at once, with every ssh client it started and the remote commands they
    kept alive (matched by `pattern`); on a timeout, what was still running is shown."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    finally:
        left = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
        if proc.returncode is None:
            proc.kill()
            print("still running:", left, proc.communicate()[1])
    assert proc.returncode == 0, proc.communicate()[1]
    wait_for(lambda: subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 1,
             timeout=10)  # on every host: the ssh clients and the remote follows


def test_fleet_events_follow_every_host_each_line_with_its_host(lab: SshLab) -> None:
    lab.add("h1", agents("a"))
    lab.add("h2", agents("b"))
    lab.fleet_toml()
    assert fleet(lab, "up").returncode == 0
    events = follower(lab, "events", "-f", "-n", "0", "--json")
    time.sleep(2)
    assert fleet(lab, "restart", "h2:b").returncode == 0
    assert events.stdout is not None
    line = json.loads(events.stdout.readline())
    assert line["host"] == "h2" and line["agent"] == "b"
    stopped_by(events, signal.SIGINT, "events --json -n 0 -f")


def test_a_followed_log_ends_with_its_ssh_when_the_follower_is_terminated(lab: SshLab) -> None:
    lab.add("h1", agents("a"))
    lab.fleet_toml()
    assert fleet(lab, "up").returncode == 0
    shown = fleet(lab, "events", "-n", "50", "--json")  # not followed: all of it, then it ends
    assert shown.returncode == 0, shown.stderr
    assert {(e["host"], e["event"]) for e in map(json.loads, shown.stdout.splitlines())} >= {("h1", "up")}
    logs = follower(lab, "logs", "-f", "-n", "5", "h1:a")
    wait_for(lambda: subprocess.run(["pgrep", "-f", "logs -n 5 -f -- a"], capture_output=True).returncode == 0,
             timeout=20)  # its remote follow runs
    stopped_by(logs, signal.SIGTERM, "logs -n 5 -f -- a")


@pytest.mark.tmux  # starts real processes
def test_a_mistake_in_fleet_toml_is_named_by_its_key(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text('[[host]]\nname = "gpu1"\nssh = "gpu1"\nconfg = "a.toml"\n')
    out = subprocess.run([sys.executable, "-m", "agentsup", "fleet", "status"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=30)
    assert out.returncode == 2 and "host[0] (gpu1).confg: unknown key 'confg' (did you mean 'config'?)" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.tmux  # starts real processes
def test_fleet_toml_has_a_json_schema_from_the_same_tables(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "agentsup", "schema", "--fleet"], capture_output=True, text=True,
                         timeout=30, cwd=tmp_path)
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["title"] == "fleet.toml"
    host = data["$defs"]["HostSpec"]
    assert set(host["properties"]) == {"name", "ssh", "ssh_options", "config", "agentsup", "timeout"}
    assert set(host["required"]) == {"name", "ssh"}


def test_the_web_view_shows_every_host_grouped_and_a_dead_host_as_one_row(lab: SshLab, browser_page: Any) -> None:
    from playwright.sync_api import expect

    from ..browser import web_server

    lab.add("h1", agents("builder", "adversary"))
    lab.add("h2", agents("solo"))
    lab.fleet_toml(timeout=20)
    assert fleet(lab, "up").returncode == 0
    with web_server(["web", "--fleet", str(lab.root / "fleet.toml"), "--port", "0"], cwd=lab.root) as server:
        page = browser_page.page
        page.goto(server.login)
        for host, names in (("h1", ["builder", "adversary"]), ("h2", ["solo"])):
            section = page.locator(f'div.host[data-host="{host}"]')
            for name in names:
                expect(section.locator(f'tr[data-agent="{host}:{name}"] .state')).to_have_text("RUNNING",
                                                                                              timeout=60_000)
        lab.stop("h2")  # its sshd goes: the host is one row saying why, the other host is intact
        expect(page.locator('div.host[data-host="h2"] .host-error')).to_contain_text("unreachable", timeout=60_000)
        expect(page.locator('div.host[data-host="h1"] tr[data-agent="h1:builder"]')).to_be_visible()
    assert all(url.startswith(server.base + "/") for url, _ in browser_page.requests)
