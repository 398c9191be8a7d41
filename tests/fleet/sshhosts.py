"""Hosts for the fleet tests: each one a Unix user of its own (home, agents.toml, tmux server)
behind an sshd of its own on 127.0.0.1, reached with a key and a host key made for this run. The
test runs as root to create them; everything is removed at the end, every process of those users
ended (they are this test's)."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
FLEET_VENV = "TESTS_FLEET_VENV"  # set by the suite's set-up (tests/tiers.py) to the venv it built
ROOT_SRC = Path(__file__).resolve().parents[2]  # the checkout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agentsup_venv(where: Path) -> Path:
    """A Python environment other users can run (root's own Python sits in /root, 0700) with
    agentsup's locked dependencies and a copy of this working tree's agentsup (a .pth file and a
    console script), so the hosts run the code under test."""
    venv = where / "venv"
    python = next((p for p in ("/usr/bin/python3.13", "/usr/bin/python3.12", "/usr/bin/python3.11")
                   if os.access(p, os.X_OK)), None)
    if python is None:
        raise RuntimeError("the fleet tests need a system Python 3.11+ in /usr/bin that other users can run")
    subprocess.run(["uv", "venv", "-q", "--python", python, str(venv)], check=True, timeout=120)
    requirements = where / "requirements.txt"
    subprocess.run(["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q",
                    "-o", str(requirements)], check=True, timeout=120, cwd=ROOT_SRC)
    # compiled now, as an install by pip would be: the hosts' users cannot write beside it, and
    # compiling at every run took a third of a second of CPU per process, seconds under CI's load
    subprocess.run(["uv", "pip", "install", "-q", "--compile-bytecode",
                    "--python", str(venv / "bin" / "python"), "-r", str(requirements)], check=True, timeout=300)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # A copy of this working tree's package: the checkout itself may sit where other users cannot read.
    shutil.copytree(ROOT_SRC / "src" / "agentsup", where / "src" / "agentsup",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "agentsup-src.pth").write_text(str(where / "src") + "\n")
    # Compiled now, as root: the hosts' users cannot write beside it, and would compile it at every run.
    subprocess.run([str(venv / "bin" / "python"), "-m", "compileall", "-q", str(where / "src")], check=True,
                   timeout=120)
    script = venv / "bin" / "agentsup"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nfrom agentsup.cli import main\n\nmain()\n")
    script.chmod(0o755)
    for folder, _, files in os.walk(where):  # readable by every user, whatever the umask was
        os.chmod(folder, os.stat(folder).st_mode | 0o555)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))
    return venv


def accounts(argv: list[str], *, check: bool = True) -> None:
    """useradd/userdel, again while another test worker holds the account files' lock."""
    for attempt in range(50):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode == 0 or "lock" not in done.stderr:
            break
        time.sleep(0.1 + 0.02 * attempt)
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip()}")


@dataclass
class Host:
    name: str
    user: str
    home: Path
    port: int
    sshd: subprocess.Popen[bytes] | None = None

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A command as this host's user, directly (not over ssh): what the test checks with."""
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "USER": self.user}
        return subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--init-groups", *argv],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=self.home)


class SshLab:
    """Hosts on loopback sshds, an ssh config that names them, and the fleet.toml that lists them."""

    def __init__(self, root: Path, venv: Path) -> None:
        self.root = root
        self.venv = venv
        self.hosts: dict[str, Host] = {}
        self.key = root / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        self.ssh_config = root / "ssh_config"
        self.known_hosts = root / "known_hosts"
        self.ssh_config.write_text("")
        self.known_hosts.write_text("")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory

    def add(self, name: str, agents_toml: str) -> Host:
        user = f"asf{secrets.token_hex(3)}{name}"[:32]
        home = self.root / f"home-{name}"
        # "*": no password, yet not locked ("!"), which sshd without PAM refuses even for a key
        accounts(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", "-p", "*", user])
        home.mkdir(mode=0o755)
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        (home / "agents.toml").write_text(agents_toml.replace("@HOME@", str(home)))
        subprocess.run(["chown", "-R", f"{user}:{user}", str(home)], check=True)
        host = Host(name, user, home, free_port())
        hostkey = self.root / f"hostkey-{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
        (self.root / f"sshd-{name}.conf").write_text(
            f"Port {host.port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\nPidFile {self.root}/sshd-{name}.pid\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"UsePAM no\nStrictModes no\nAllowUsers {user}\nMaxSessions 100\nMaxStartups 100\nLogLevel ERROR\n")
        with self.known_hosts.open("a") as fh:
            fh.write(f"[127.0.0.1]:{host.port} {hostkey.with_suffix('.pub').read_text()}")
        with self.ssh_config.open("a") as fh:
            fh.write(f"Host {name}\n  HostName 127.0.0.1\n  Port {host.port}\n  User {user}\n"
                     f"  IdentityFile {self.key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {self.known_hosts}\n"
                     "  StrictHostKeyChecking yes\n\n")
        self.hosts[name] = host
        self.start(name)
        return host

    def start(self, name: str) -> None:
        host = self.hosts[name]
        host.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.root / f"sshd-{name}.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", host.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd for {name} did not listen on port {host.port}")

    def stop(self, name: str) -> None:
        """The host goes down: its sshd ends (listener and every session it serves)."""
        host = self.hosts[name]
        if host.sshd is not None and host.sshd.poll() is None:
            host.sshd.terminate()
            host.sshd.wait(timeout=10)
        for pid in self.sshd_children(name):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def sshd_children(self, name: str) -> list[int]:
        """Processes of the sshd serving this host's sessions (root's privileged monitors included),
        not its listener."""
        conf = str(self.root / f"sshd-{name}.conf").encode()
        user = self.hosts[name].user.encode()
        listener = self.hosts[name].sshd
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                if cmdline.startswith(b"sshd") and (user in cmdline or conf in cmdline) and (
                        listener is None or int(entry) != listener.pid):
                    found.append(int(entry))
        return found

    def fleet_toml(self, *, timeout: float = 30, extra: str = "") -> Path:
        """(A host's timeout is generous where it is not what a test checks: the suite's load.)"""
        body = f"[fleet]\ntimeout = {timeout}\n\n" + "".join(
            f'[[host]]\nname = "{h.name}"\nssh = "{h.name}"\nssh_options = ["-F", "{self.ssh_config}"]\n'
            f'config = "~/agents.toml"\nagentsup = "{self.venv}/bin/agentsup"\n\n' for h in self.hosts.values())
        path = self.root / "fleet.toml"
        path.write_text(body + extra)
        return path

    def close(self) -> None:
        for name in list(self.hosts):
            self.stop(name)
        for host in self.hosts.values():
            # Again until none is left: a watchdog may start a process between pkill's look and
            # its kill (a tmux server outlived one pass, and userdel then refused the account).
            for _ in range(50):
                subprocess.run(["pkill", "-KILL", "-u", host.user], capture_output=True)
                time.sleep(0.05)
                if subprocess.run(["pgrep", "-u", host.user], capture_output=True).returncode != 0:
                    break
            accounts(["userdel", host.user], check=False)
