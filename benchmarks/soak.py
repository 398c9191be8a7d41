"""A chaos soak: the whole product run as an operator runs it, with faults at random moments.

    python benchmarks/soak.py --duration 1800 --seed 7

`agentsup watchdog` runs as its own process and is restarted one second after any exit (as
systemd's Restart=always would); the CLI runs in other processes; a fleet of sim agents of every
kind runs on a private tmux server. A seeded generator throws faults, alone and overlapping: kill -9
of agents and of the watchdog, a SIGSTOPped tmux server, its socket removed, the server killed, a
corrupt agents.toml for a few seconds, a config edit, a full log filesystem (a small tmpfs, as
root), a log rotated away, pings, restart/reset/run, claim and review pushes, `## DONE`.

Every second it checks from /proc and tmux, and at the end from the agents' own records: the
watchdog never exited by itself, no agent ever ran twice, none stayed down past its backoff, every
ping reported delivered or queued arrived exactly once (and no other did), every push pinged its
peer exactly once, each phase advanced once, the limited agent resumed after its reset, `status`
always answered, no traceback, and nothing of the fleet survives `down`. It prints the figures and
one verdict line; exit 0 only with zero violations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
WORKERS = ("w1", "w2", "w3")
LATE_LIFT = 48  # s after the shown reset minute that the limited agent's limit truly lifts
LATE_RESUME_MAX = 45  # s after that it must be working again (probes come every 15 s then)
LOOPS = ("builder", "adversary")
PHASES = ("p1", "p2", "p3")
DOWN_LIMIT = 300 + 30 + 45  # backoff_max, a signal tick, and the time a frozen tmux may cost


def sh(argv: list[str], *, cwd: Path | None = None, timeout: float = 30, env: dict[str, str] | None = None,
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env or ENV)


@dataclass
class Soak:
    root: Path
    seed: int
    duration: float
    rng: random.Random = field(init=False)
    violations: list[str] = field(default_factory=list)
    figures: dict[str, list[float]] = field(default_factory=dict)
    pings: dict[str, tuple[str, str]] = field(default_factory=dict)  # text -> (agent, result)
    pushes: dict[str, tuple[str, float]] = field(default_factory=dict)  # subject -> (peer, pushed at, wall)
    kills: dict[str, float] = field(default_factory=dict)  # agent -> when its program was killed
    down_since: dict[str, float] = field(default_factory=dict)
    frozen_until: float = 0.0  # tmux SIGSTOPped (its agents cannot be seen, nor healed, meanwhile)
    dones: int = 0
    limit_reset: float = 0.0
    tmpfs: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    dog: subprocess.Popen[bytes] | None = None
    dog_lock: threading.Lock = field(default_factory=threading.Lock)
    killed_dog: bool = False
    counter: int = 0
    git_env: dict[str, str] = field(default_factory=dict)
    good_config: str = ""  # what agents.toml holds when no corrupting fault is under way
    corrupt_until: float = 0.0  # a command that changes things may refuse a broken config until then
    restarts: dict[str, int] = field(default_factory=dict)
    undoing: list[threading.Thread] = field(default_factory=list)  # faults still to be undone

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def config(self) -> Path:
        return self.root / "agents.toml"

    @property
    def socket(self) -> str:
        return str(self.root / "tmux.sock")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def violation(self, text: str) -> None:
        self.violations.append(f"{time.strftime('%H:%M:%S')} {text}")
        print(f"VIOLATION {text}", flush=True)

    def figure(self, name: str, value: float) -> None:
        self.figures.setdefault(name, []).append(value)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = sh([PY, "-m", "agentsup", "-c", str(self.config), *args], cwd=self.root, timeout=timeout)
        if "Traceback" in proc.stderr:
            self.violation(f"traceback from `agentsup {' '.join(args[:2])}`: {proc.stderr.strip()[-300:]}")
        return proc

    # ── the fleet ──────────────────────────────────────────────────────────────────────────

    def write_config(self, model: str = "m0") -> str:
        # On a whole minute, as real resets are: the banner shows the minute only.
        reset = (datetime.now(UTC) + timedelta(seconds=min(120.0, self.duration / 5) + 59)).replace(
            second=0, microsecond=0)
        self.limit_reset = reset.timestamp()
        text = (f'[defaults]\nlog_dir = "logs"\nsession_prefix = "soak-"\n\n[tmux]\nsocket = "{self.socket}"\n\n'
                "[watchdog]\nrestart_max = 1000\nlimit_reset_slack = 10\n\n"
                '[loop]\nphases = [\n' + "".join(
                    f'  {{ id = "{p}", plan = "plan.md", status = "STATUS-{p}.md" }},\n' for p in PHASES)
                + ']\n[loop.handoff]\nrepo = "work"\nbranch = "main"\n\n')
        agents = [(w, ["--record", f"{w}.jsonl", "--reply-work", "0.5", *(["--model", model] if w == "w1" else [])],
                   "persistent", "") for w in WORKERS]
        agents.append(("crasher", ["--record", "crasher.jsonl", "--exit-after", "45", "--exit-code", "3"],
                       "persistent", ""))
        # Its limit truly lifts LATE_LIFT s after the minute its banner shows, as real ones may.
        agents.append(("limited", ["--record", "limited.jsonl", "--limit", "claude", "--reset",
                                   reset.astimezone().strftime("%-I:%M%p").lower(), "--limit-until",
                                   (reset + timedelta(seconds=LATE_LIFT)).isoformat()], "persistent",
                       'account = "its-own"\n'))
        agents += [(name, ["--record", f"{name}.jsonl", "--reply-work", "0.5"], "loop", f'role = "{name}"\n')
                   for name in LOOPS]
        agents += [("t1", ["--record", "t1.jsonl", "--exit-after", "2", "--exit-code", "0"], "task", ""),
                   ("t2", ["--record", "t2.jsonl", "--exit-after", "2", "--exit-code", "0"], "task",
                    'after = ["t1"]\n')]
        for name, args, kind, extra in agents:
            watch = "none" if kind == "task" else "heal"
            text += (f'[[agent]]\nname = "{name}"\nkind = "{kind}"\nbackend = "sim"\nwatch = "{watch}"\n'
                     f"args = {json.dumps(args)}\n{extra}\n")
        return text

    def setup(self) -> None:
        for sub in ("prompts", "pusher"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "prompts" / "builder.md").write_text("ROLE builder\n")
        (self.root / "prompts" / "adversary.md").write_text("ROLE adversary\n")
        (self.root / "plan.md").write_text("the plan\n")
        self.git_env = git_env = {**ENV, "GIT_AUTHOR_NAME": "soak", "GIT_AUTHOR_EMAIL": "soak@localhost",
                                  "GIT_COMMITTER_NAME": "soak", "GIT_COMMITTER_EMAIL": "soak@localhost"}
        sh(["git", "init", "-q", "--bare", "-b", "main", str(self.root / "origin.git")])
        for clone in ("pusher", "work"):
            sh(["git", "clone", "-q", str(self.root / "origin.git"), str(self.root / clone)])
        sh(["git", "-C", str(self.root / "pusher"), "commit", "-q", "--allow-empty", "-m", "initial"], env=git_env)
        sh(["git", "-C", str(self.root / "pusher"), "push", "-q", "origin", "HEAD:main"], env=git_env)
        sh(["git", "-C", str(self.root / "work"), "pull", "-q", "origin", "main"], env=git_env)
        self.logs.mkdir()
        if os.geteuid() == 0:  # a small filesystem of its own, to fill
            self.tmpfs = sh(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(self.logs)]
                            ).returncode == 0
        self.good_config = self.write_config()
        self.config.write_text(self.good_config)
        up = self.cli("up", "--no-watchdog")
        if up.returncode != 0:
            raise SystemExit(f"soak: agentsup up failed: {up.stderr}")

    # ── the watchdog, as systemd runs it ───────────────────────────────────────────────────

    def supervise(self) -> None:
        while not self.stop.is_set():
            with self.dog_lock:
                self.dog = subprocess.Popen([PY, "-m", "agentsup", "-c", str(self.config), "watchdog", "--quiet"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root,
                                            env=ENV)
                self.killed_dog = False
            _, err = self.dog.communicate()
            text = err.decode("utf-8", "replace")
            if "Traceback" in text:
                self.violation(f"watchdog traceback: {text.strip()[-400:]}")
            if not self.killed_dog and not self.stop.is_set():
                self.violation(f"the watchdog exited by itself (code {self.dog.returncode}): {text.strip()[-200:]}")
            self.stop.wait(1.0)  # Restart=always, RestartSec=1

    # ── what a user checks ─────────────────────────────────────────────────────────────────

    def programs(self) -> dict[str, list[int]]:
        """Live sim programs of this fleet, by agent name (from their environment in /proc)."""
        tag = f"AGENTSUP_TAG={self.socket}:".encode()
        found: dict[str, list[int]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if comm != "agentsup-sim" or state in ("Z", "X") or not any(v.startswith(tag) for v in env):
                continue
            name = next((v.split(b"=", 1)[1].decode() for v in env if v.startswith(b"AGENTSUP_AGENT=")), "?")
            found.setdefault(name, []).append(int(pid))
        return found

    def check(self) -> None:
        last_status = 0.0
        while not self.stop.wait(1.0):
            now = time.monotonic()
            progs = self.programs()
            for name, pids in progs.items():
                if len(pids) > 1:
                    self.violation(f"{name} runs twice: pids {pids}")
            for name in (*WORKERS, "limited", *LOOPS):
                if progs.get(name):
                    self.down_since.pop(name, None)
                    killed = self.kills.pop(name, None)
                    if killed is not None:
                        self.figure("heal_s", now - killed)
                elif now > self.frozen_until:
                    self.down_since.setdefault(name, now)
                    if now - self.down_since[name] > DOWN_LIMIT:
                        self.violation(f"{name} down for {now - self.down_since[name]:.0f}s")
                        self.down_since[name] = now
            if now - last_status >= 5:
                last_status = now
                started = time.monotonic()
                try:
                    status = self.cli("status", "--json", timeout=30)
                except subprocess.TimeoutExpired:
                    self.violation("status did not answer within 30 s")
                    continue
                self.figure("status_s", time.monotonic() - started)
                if status.returncode not in (0, 1):
                    self.violation(f"status failed ({status.returncode}): {status.stderr.strip()[:200]}")

    # ── faults ─────────────────────────────────────────────────────────────────────────────

    def tmux_pid(self) -> int | None:
        out = sh(["tmux", "-S", self.socket, "display-message", "-p", "#{pid}"], timeout=5)
        return int(out.stdout) if out.returncode == 0 and out.stdout.strip().isdigit() else None

    def fault_kill_agent(self) -> str:
        name = self.rng.choice([*WORKERS, "crasher", *LOOPS])
        pids = self.programs().get(name, [])
        if not pids:
            return f"kill -9 {name}: not running"
        os.kill(pids[0], signal.SIGKILL)
        self.kills[name] = time.monotonic()
        return f"kill -9 {name} ({pids[0]})"

    def fault_kill_watchdog(self) -> str:
        with self.dog_lock:
            if self.dog is None or self.dog.poll() is not None:
                return "kill -9 watchdog: not running"
            self.killed_dog = True
            self.dog.kill()
        return "kill -9 watchdog"

    def fault_freeze_tmux(self) -> str:
        pid = self.tmux_pid()
        if pid is None:
            return "SIGSTOP tmux: no server"
        seconds = self.rng.uniform(3, 12)
        self.frozen_until = time.monotonic() + seconds + 60
        os.kill(pid, signal.SIGSTOP)
        self.later(seconds, lambda: os.kill(pid, signal.SIGCONT))
        return f"SIGSTOP tmux for {seconds:.0f}s"

    def fault_remove_socket(self) -> str:
        with contextlib.suppress(OSError):
            os.unlink(self.socket)
            self.frozen_until = time.monotonic() + 60
            return "socket removed"
        return "socket removed: none there"

    def fault_kill_tmux(self) -> str:
        pid = self.tmux_pid()
        if pid is None:
            return "kill tmux: no server"
        os.kill(pid, signal.SIGKILL)
        self.frozen_until = time.monotonic() + 90
        return "tmux server killed"

    def fault_corrupt_config(self) -> str:
        self.config.write_text(self.good_config + "\n[[agent]\nname = broken\n")
        seconds = self.rng.uniform(2, 6)
        self.corrupt_until = max(self.corrupt_until, time.monotonic() + seconds + 1)
        self.later(seconds, lambda: self.config.write_text(self.good_config))
        return "agents.toml corrupt for a few seconds"

    def fault_edit_config(self) -> str:
        self.counter += 1
        text = self.good_config
        old = next(part for part in text.split('"') if part.startswith("m") and part[1:].isdigit())
        self.good_config = text.replace(f'"--model", "{old}"', f'"--model", "m{self.counter}"')
        self.config.write_text(self.good_config)
        return f"config edit: w1 --model m{self.counter}"

    def fault_fill_disk(self) -> str:
        if not self.tmpfs:
            return "disk full: skipped (not root: no tmpfs)"
        filler = self.logs / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as fh:
            while True:
                fh.write(b"\0" * (1 << 20))
        self.later(self.rng.uniform(3, 10), lambda: filler.unlink(missing_ok=True))
        return "log filesystem full"

    def fault_rotate_log(self) -> str:
        name = self.rng.choice(WORKERS)
        with contextlib.suppress(OSError):
            os.replace(self.logs / f"soak-{name}.log", self.logs / f"soak-{name}.log.rotated")
        return f"log of {name} rotated away"

    def fault_ping(self) -> str:
        name = self.rng.choice([*WORKERS, "limited", "limited"])
        self.counter += 1
        text = f"soak-ping-{self.counter}"
        out = self.cli("ping", name, text, "--json")
        try:
            result = str(json.loads(out.stdout)["result"])
        except (ValueError, KeyError, TypeError):
            result = f"error: {out.stderr.strip()[:120]}"
        self.pings[text] = (name, result)
        return f"ping {name}: {result}"

    def fault_operate(self) -> str:
        kind = self.rng.choice(["restart", "reset", "run"])
        target = self.rng.choice(WORKERS) if kind != "run" else "t1"
        out = self.cli(kind, target)
        # Refusals a user is told about in one line, while the fault behind them is in force.
        refused = (("not valid TOML" in out.stderr and time.monotonic() < self.corrupt_until)
                   or ("did not answer" in out.stdout + out.stderr and time.monotonic() < self.frozen_until))
        if out.returncode != 0 and not refused:
            self.violation(f"`agentsup {kind} {target}` failed: {out.stderr.strip()[:200]}")
        if kind == "restart":
            self.kills[target] = time.monotonic()
        return f"{kind} {target}: {out.stdout.strip()[:80]}"

    def fault_push(self) -> str:
        self.counter += 1
        kind = self.rng.choice(["claim", "review"])
        subject = f"{kind}(gate-{self.counter}): soak"
        pusher = self.root / "pusher"
        sh(["git", "-C", str(pusher), "commit", "-q", "--allow-empty", "-m", subject], env=self.git_env)
        sh(["git", "-C", str(pusher), "push", "-q", "origin", "HEAD:main"], env=self.git_env)
        self.pushes[subject] = ("adversary" if kind == "claim" else "builder", time.time())
        return f"push {subject}"

    def fault_done(self) -> str:
        if self.dones >= len(PHASES) - 1:  # the last phase stays open: its loops keep working and pinging
            return "DONE: the last phase stays open"
        phase = PHASES[self.dones]  # one DONE a phase; one written early waits until its phase comes
        (self.root / "work" / f"STATUS-{phase}.md").write_text("## DONE\nall gates passed\n")
        self.dones += 1
        return f"## DONE for {phase}"

    def later(self, seconds: float, action: Callable[[], object]) -> None:
        """Undo a fault after `seconds` (SIGCONT, the good config back, room on the disk)."""
        def run() -> None:
            time.sleep(seconds)
            with contextlib.suppress(OSError):
                action()
        thread = threading.Thread(target=run, daemon=True)
        self.undoing.append(thread)
        thread.start()

    def throw(self) -> None:
        faults: list[tuple[Callable[[], str], float]] = [
            (self.fault_kill_agent, 5), (self.fault_kill_watchdog, 2), (self.fault_freeze_tmux, 1),
            (self.fault_remove_socket, 1), (self.fault_kill_tmux, 0.5), (self.fault_corrupt_config, 1),
            (self.fault_edit_config, 1), (self.fault_fill_disk, 1), (self.fault_rotate_log, 1),
            (self.fault_ping, 6), (self.fault_operate, 2), (self.fault_push, 4), (self.fault_done, 0.7)]
        deadline = time.monotonic() + self.duration
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(0.5, 6))
            fault = self.rng.choices([f for f, _ in faults], [w for _, w in faults])[0]
            try:
                said = fault()
            except Exception as exc:  # the soak itself must not die of a fault it throws
                said = f"{fault.__name__} failed: {type(exc).__name__}: {exc}"
            print(f"{time.strftime('%H:%M:%S')} {said}", flush=True)

    # ── the end ───────────────────────────────────────────────────────────────────────────

    def records(self, name: str) -> list[str]:
        path = self.root / f"{name}.jsonl"
        with contextlib.suppress(OSError):
            return [json.loads(line).get("text", "") for line in path.read_text().splitlines() if line.strip()]
        return []

    def settle_and_judge(self) -> None:
        for thread in self.undoing:  # every fault undone (tmux continued, the config good) before judging
            thread.join()
        print("settling: faults stopped, waiting for the fleet to catch up", flush=True)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not self.caught_up():
            time.sleep(2)
        for text, (agent, result) in self.pings.items():
            got = sum(text == r.strip() for r in self.records(agent))
            if result in ("delivered", "queued") and got != 1:
                self.violation(f"ping {text} to {agent} reported {result}, arrived {got} times")
            elif result not in ("delivered", "queued") and got:
                self.violation(f"ping {text} to {agent} reported {result}, yet arrived")
        for subject, (peer, _) in self.pushes.items():
            got = sum(subject in r for r in self.records(peer))
            if got != 1:
                self.violation(f"push {subject!r} pinged {peer} {got} times")
        events = self.events()
        for refused in (e for e in events if e["event"] == "illegal-transition"):
            self.violation(f"{refused.get('agent')}: refused state change {refused.get('old')} -> {refused.get('new')}")
        advances = [e for e in events if e["event"] == "phase-advance"]
        if len(advances) != self.dones or len({e.get("done") for e in advances}) != len(advances):
            self.violation(f"{self.dones} DONE markers, phase advances: {[e.get('done') for e in advances]}")
        lifted = [e for e in events if e["event"] == "limit-lifted" and e.get("agent") == "limited"]
        true_lift = self.limit_reset + LATE_LIFT
        if time.time() > true_lift + 90 and not lifted:
            self.violation("the limited agent did not resume after its limit lifted")
        elif lifted:
            at = datetime.fromisoformat(str(lifted[0]["ts"])).timestamp()
            self.figure("resume_after_true_lift_s", at - true_lift)
            if at - true_lift > LATE_RESUME_MAX:
                self.violation(f"the limited agent resumed {at - true_lift:.0f} s after its limit truly lifted")
        restarts: dict[str, int] = {}
        for e in events:
            if e["event"] in ("start", "restart") and e.get("agent"):
                restarts[str(e["agent"])] = restarts.get(str(e["agent"]), 0) + 1
        self.restarts = restarts

    def caught_up(self) -> bool:
        pending = [t for t, (a, r) in self.pings.items() if r in ("delivered", "queued")
                   and not any(t == x.strip() for x in self.records(a))]
        pushes = [s for s, (p, _) in self.pushes.items() if not any(s in x for x in self.records(p))]
        return not pending and not pushes

    def events(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.logs.glob("events.jsonl*"), reverse=True):
            with contextlib.suppress(OSError):
                for line in path.read_text(errors="replace").splitlines():
                    with contextlib.suppress(ValueError):
                        out.append(json.loads(line))
        return [e for e in out if isinstance(e, dict) and "event" in e]

    def handoff_delays(self) -> None:
        """Push → the peer's own record of the ping (the sim writes the time it got it)."""
        for subject, (peer, pushed) in self.pushes.items():
            path = self.root / f"{peer}.jsonl"
            with contextlib.suppress(OSError, ValueError):
                for line in path.read_text().splitlines():
                    rec = json.loads(line)
                    if subject in rec.get("text", ""):
                        self.figure("handoff_s", float(rec["t"]) - pushed)

    def down(self) -> None:
        self.stop.set()
        with self.dog_lock:
            if self.dog is not None and self.dog.poll() is None:
                self.killed_dog = True
        out = self.cli("down", timeout=120)
        if out.returncode != 0:
            self.violation(f"down failed: {out.stderr.strip()[:200]}")
        time.sleep(1)
        left = self.programs()
        tag = f"AGENTSUP_TAG={self.socket}:".encode()
        others = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                if any(v.startswith(tag) for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")):
                    others.append(int(pid))
        if left or others:
            self.violation(f"after down, still running: {left or others}")
            for leftover in others:  # the soak ends what it started, whatever down did
                with contextlib.suppress(OSError):
                    os.kill(leftover, signal.SIGKILL)
        if self.dog is not None and self.dog.poll() is None:
            self.violation("after down, the watchdog still runs")
            self.dog.kill()

    def report(self) -> int:
        print("\nfigures (min / median / max):")
        for name, values in sorted(self.figures.items()):
            print(f"  {name:22} n={len(values):4}  {min(values):7.2f}  {statistics.median(values):7.2f}"
                  f"  {max(values):7.2f}")
        print("  restarts per agent:   " + ", ".join(f"{k}={v}" for k, v in sorted(self.restarts.items())))
        print(f"  pings: {len(self.pings)}  pushes: {len(self.pushes)}  DONE: {self.dones}")
        for v in self.violations:
            print(f"  violation: {v}")
        verdict = "PASS" if not self.violations else "FAIL"
        print(f"soak {verdict}: {len(self.violations)} violations · seed {self.seed} · {self.duration:.0f} s")
        return 0 if not self.violations else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=180, help="seconds of faults (then a settle period)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    soak = Soak(root, args.seed, args.duration)
    print(f"soak in {root}: seed {args.seed}, {args.duration:.0f} s", flush=True)
    soak.setup()
    threads = [threading.Thread(target=soak.supervise, daemon=True), threading.Thread(target=soak.check, daemon=True)]
    for t in threads:
        t.start()
    try:
        # The watchdog's first look at the handoff remote sets its baseline: pushes come after it.
        deadline = time.monotonic() + 60
        while not (soak.logs / "state" / "handoff.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        soak.throw()
        soak.settle_and_judge()
        soak.handoff_delays()
    finally:
        soak.down()
        sh(["tmux", "-S", soak.socket, "kill-server"], timeout=10)
        if soak.tmpfs:
            if args.keep:
                sh(["cp", "-a", str(soak.logs), str(root / "logs-kept")])
            sh(["umount", "-l", str(soak.logs)])
    code = soak.report()
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
