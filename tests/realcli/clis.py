"""The real agent CLIs, pinned, installed from the npm registry into a cache outside the repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentsup.agents.verified import VERIFIED

CACHE = Path(os.environ.get("AGENTSUP_REALCLI_CACHE") or Path.home() / ".cache" / "agentsup-realcli")


@dataclass(frozen=True)
class Cli:
    package: str
    version: str
    command: str

    @property
    def prefix(self) -> Path:
        return CACHE / f"{self.package.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def bin(self) -> Path:
        return self.prefix / "node_modules" / ".bin" / self.command

    def install(self) -> Path:
        """Install once (npm, the registry only); later runs reuse the cache."""
        if self.bin.exists():
            return self.bin
        if shutil.which("npm") is None:
            raise RuntimeError("npm is not installed; .ci/run installs nodejs and npm")
        self.prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(self.prefix),
                        f"{self.package}@{self.version}"], check=True, capture_output=True, timeout=600)
        return self.bin

    def installed_version(self) -> str:
        meta = self.prefix / "node_modules" / self.package / "package.json"
        return str(json.loads(meta.read_text())["version"])


def pinned(command: str, which: str = "newest") -> Cli:
    """A verified version, the oldest supported or the newest checked (src/agentsup/agents/verified.py:
    the one place versions are pinned)."""
    known = VERIFIED[command]
    return Cli(known.package, known.oldest if which == "oldest" else known.newest, command)


CLAUDE = pinned("claude", "oldest")  # the menu at a limit, the 2.1.197 wording
CLAUDE_NEWEST = pinned("claude")  # continues by itself at a reset; auto mode
CODEX = pinned("codex", "oldest")
CODEX_NEWEST = pinned("codex")
GEMINI = pinned("gemini")
OPENCODE = pinned("opencode")
PINNED = (CLAUDE, CLAUDE_NEWEST, CODEX, CODEX_NEWEST, GEMINI, OPENCODE)


if __name__ == "__main__":  # .ci/run: install the pinned CLIs before the tests enter their namespace
    for cli in PINNED:
        print(f"{cli.package}@{cli.version}: {cli.install()}")
