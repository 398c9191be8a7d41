"""The agent CLI versions agentsup is checked against: the one place they are pinned. The real-CLI
tests install these from npm (tests/realcli/clis.py) and `doctor` warns about an installed CLI
outside the range (CLIs update themselves; their wording and behaviour drift between releases)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Verified:
    """A CLI's npm package and the oldest and newest versions checked against it."""

    package: str
    oldest: str
    newest: str


VERIFIED: dict[str, Verified] = {
    "claude": Verified("@anthropic-ai/claude-code", "2.1.197", "2.1.332"),
    "codex": Verified("@openai/codex", "0.169.0", "0.171.0"),
    "gemini": Verified("@google/gemini-cli", "0.61.0", "0.61.0"),
    "opencode": Verified("opencode-ai", "1.18.33", "1.18.33"),
}

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first x.y.z in a program's --version output."""
    m = _VERSION.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def judge(backend: str, installed: str) -> str | None:
    """Why `installed` (a --version output) is outside what agentsup was checked with; None when
    inside, or when nothing is known about the backend."""
    known = VERIFIED.get(backend)
    found = parse_version(installed)
    if known is None or found is None:
        return None
    shown = ".".join(map(str, found))
    if found > (parse_version(known.newest) or found):
        return f"{backend} {shown} is newer than the newest version agentsup was checked with, {known.newest}"
    if found < (parse_version(known.oldest) or found):
        return f"{backend} {shown} is older than the oldest version agentsup supports, {known.oldest}"
    return None
