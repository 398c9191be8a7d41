"""The README's generated config reference matches the models, and its quickstart is two commands."""

from __future__ import annotations

import re

from agentsup.config.reference import embed

from ..conftest import ROOT

README = ROOT / "README.md"


def test_config_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert embed(text) == text, "run: uv run agentsup config-reference --write README.md"


def test_quickstart_is_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```sh\n(.*?)```", text, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["uv run agentsup demo", "uv run pytest"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert any(line.rstrip().endswith("; uv run pytest") for line in ci.splitlines()), "CI runs the README's command"
