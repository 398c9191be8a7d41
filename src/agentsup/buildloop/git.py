"""The git adapter: argv lists, a timeout on every call, never a shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentsup.errors import AgentsupError


class GitError(AgentsupError):
    """git failed, timed out or is not installed."""


class Git:
    """One repository, driven through git's argv with a timeout on every call."""

    def __init__(self, repo: Path, *, timeout: float = 30.0, binary: str = "git") -> None:
        self.repo = repo
        self.timeout = timeout
        self.binary = binary

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run([self.binary, "-C", str(self.repo), *args], capture_output=True, text=True,
                                  timeout=self.timeout, env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
                                                              **_passthrough()})
        except FileNotFoundError:
            raise GitError(f"git binary {self.binary!r} not found") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} in {self.repo} did not finish within {self.timeout:g}s") from None
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args[:2])} in {self.repo} failed: {proc.stderr.strip()[:300]}")
        return proc

    def fetch(self, remote: str) -> None:
        self.run("fetch", "--quiet", remote)

    def rev_parse(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def subjects(self, old: str, new: str) -> list[str] | None:
        """Subjects of commits reachable from `new` but not `old`, oldest first; None if `old` is unknown."""
        proc = self.run("log", "--reverse", "--format=%s", f"{old}..{new}", check=False)
        return proc.stdout.splitlines() if proc.returncode == 0 else None

    def show(self, ref: str, path: str) -> str | None:
        proc = self.run("show", f"{ref}:{path}", check=False)
        return proc.stdout if proc.returncode == 0 else None


    def remote_url(self, remote: str) -> str | None:
        proc = self.run("config", "--get", f"remote.{remote}.url", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None


def local_git_dir(url: str, base: Path) -> Path | None:
    """The git directory of a remote on this machine (a path or a file:// URL), else None."""
    if url.startswith("file://"):
        path = Path(url.removeprefix("file://"))
    elif "://" in url or (":" in url.split("/", 1)[0]):  # https://, ssh://, or scp-like host:path
        return None
    else:
        path = Path(url).expanduser()
    path = path if path.is_absolute() else base / path
    for candidate in (path, path / ".git"):
        if (candidate / "refs").is_dir() and (candidate / "HEAD").exists():
            return candidate
    return None


def _passthrough() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "XDG_CONFIG_HOME")
    return {k: os.environ[k] for k in keep if k in os.environ}
