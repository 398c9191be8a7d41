"""The system's OpenSSH client, run for one host at a time with argv lists: ~/.ssh/config, keys,
agents, jump hosts and known_hosts work as the operator set them up. agentsup adds only what keeps
a fleet fast and safe: BatchMode (never a prompt), a connect timeout, shared connections in a
private 0700 directory, no agent or X11 forwarding; host keys are checked as the operator's ssh
config says. A host that does not answer in time is abandoned and its ssh ended."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agentsup.fleet.config import Fleet, Host

SSH = "ssh"


def control_dir() -> Path:
    """Where shared connections' sockets live: private to this user (0700), short enough for a
    socket path ($XDG_RUNTIME_DIR when there is one)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "agentsup-ssh" if base else Path(os.path.expanduser("~/.cache/agentsup/ssh"))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def remote_word(arg: str) -> str:
    """One argument for the remote shell, quoted; a leading `~/` stays unquoted so that the remote
    shell puts the remote home there (the rest is quoted, so nothing else is ever expanded)."""
    if arg == "~":
        return "~"
    if arg.startswith("~/"):
        return "~/" + shlex.quote(arg[2:]) if arg[2:] else "~/"
    return shlex.quote(arg)


def remote_command(argv: Sequence[str]) -> str:
    return " ".join(remote_word(a) for a in argv)


def ssh_argv(fleet: Fleet, host: Host, remote: Sequence[str], *, tty: bool = False) -> list[str]:
    settings = fleet.settings
    shared = ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir()}/%C",
              "-o", f"ControlPersist={settings.control_persist}"] if settings.control_persist else []
    return [SSH, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={settings.connect_timeout}", *shared,
            "-o", "ForwardAgent=no", "-o", "ForwardX11=no", "-T" if not tty else "-t", *host.ssh_options,
            "--", host.ssh, remote_command(remote)]


@dataclass(frozen=True)
class Answer:
    """What one host said: its exit code and output, or why it could not say anything (`error`)."""

    host: str
    code: int | None
    stdout: str = ""
    stderr: str = ""
    error: str = ""  # unreachable, login failed, timed out, agentsup missing: one line
    seconds: float = 0.0  # how long the host took (to answer, or to be given up on and ended)

    @property
    def reached(self) -> bool:
        return not self.error


def explain(code: int | None, stderr: str, host: Host) -> str:
    """ssh's failure as one line: 255 is ssh's own (connection, login, host key); 127 a missing
    remote command."""
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if code == 255:
        if "Permission denied" in stderr:
            return f"login failed: {last}"
        if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
            return f"host key not verified: {last}"
        return f"unreachable: {last or 'ssh exited with 255'}"
    if code in (126, 127) and ("not found" in stderr or "No such file" in stderr or "Permission denied" in stderr):
        return f"agentsup not found on the host ({host.agentsup}): {last}"
    return ""


def call(fleet: Fleet, host: Host, remote: Sequence[str], *, timeout: float | None = None) -> Answer:
    """Run `remote` (an argv list) on `host` and wait, at most its timeout; the ssh child is ended
    (its whole process group) when the host does not answer in time."""
    limit = host.timeout if timeout is None else timeout
    started = time.monotonic()
    proc = subprocess.Popen(ssh_argv(fleet, host, remote), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        end(proc)
        return Answer(host.name, None, error=f"no answer within {limit:g}s (ssh ended)",
                      seconds=time.monotonic() - started)
    why = explain(proc.returncode, err, host)
    return Answer(host.name, proc.returncode, out, err, why, seconds=time.monotonic() - started)


def end_group(proc: subprocess.Popen[str]) -> None:
    """End an ssh client and its process group (never a reaped pid's: that number may be reused)."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2)


def end(proc: subprocess.Popen[str]) -> None:
    """End an ssh client and its process group. Its output is not read to the end: a shared
    connection's master holds the client's pipes (they were passed to it) and may never close them."""
    end_group(proc)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def call_all(fleet: Fleet, jobs: Mapping[str, tuple[str, Sequence[str]]]) -> dict[str, Answer]:
    """Every job at once (key → (host name, argv)), each bounded by its host's timeout; answers by
    key, in the order given."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(32, len(jobs))) as pool:
        futures = {key: pool.submit(call, fleet, fleet.host(host), argv) for key, (host, argv) in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def stream(fleet: Fleet, host: Host, remote: Sequence[str], on_line: Callable[[str, str], None],
           stop: threading.Event) -> Answer:
    """Run a command that keeps printing (`events -f`, `logs -f`); each line goes to `on_line(host,
    line)` as it comes, until the command ends or `stop` is set (then its ssh is ended at once)."""
    proc = subprocess.Popen(ssh_argv(fleet, host, remote), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout, proc.stderr
    errors: list[str] = []
    last_line = [time.monotonic()]

    # Read aside: a shared connection's master holds the pipes, so a read may outlast the ssh client.
    def read_out() -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in _lines(out):
                on_line(host.name, line)
                last_line[0] = time.monotonic()

    def read_err() -> None:
        with contextlib.suppress(ValueError, OSError):
            errors.append(err.read())

    readers = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for reader in readers:
        reader.start()
    while proc.poll() is None and not stop.wait(0.1):
        pass
    if proc.poll() is None:  # stopped: the client and its process group end now, its pipes with this process
        end_group(proc)
        return Answer(host.name, None)
    last_line[0] = max(last_line[0], time.monotonic())
    while readers[0].is_alive() and time.monotonic() - last_line[0] < 2.0:  # the rest, while it comes
        readers[0].join(0.1)
    readers[1].join(2.0)
    text = "".join(errors)
    return Answer(host.name, proc.returncode, "", text, explain(proc.returncode, text, host))


def follow(fleet: Fleet, jobs: Mapping[str, tuple[str, Sequence[str]]],
           on_line: Callable[[str, str], None]) -> dict[str, Answer]:
    """Streams from several hosts at once (key → (host name, argv)) until each ends or the user
    stops them: Ctrl-C, SIGTERM or SIGHUP end every ssh client at once. Each runs in a session of
    its own (the terminal's signals never reach it), so nothing else would end it, nor the remote
    command it keeps alive. Returns the answers of the streams that ended by themselves (one the
    user stopped has none: that is no failure)."""
    stop = threading.Event()
    answers: dict[str, Answer] = {}

    def one(key: str, host: str, argv: Sequence[str]) -> None:
        answer = stream(fleet, fleet.host(host), argv, on_line, stop)
        if not stop.is_set():
            answers[key] = answer

    threads = [threading.Thread(target=one, args=(key, host, argv), daemon=True)
               for key, (host, argv) in jobs.items()]
    main = threading.current_thread() is threading.main_thread()
    before = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) and not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        stop.set()
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    stop.set()
    deadline = time.monotonic() + 3.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return answers


def _lines(fh: object) -> Iterator[str]:
    for line in fh:  # type: ignore[attr-defined]
        yield str(line).rstrip("\n")
