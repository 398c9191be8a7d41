"""Phases: the done marker and its placeholders (as the seed reads them), steps, index, kickoff."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentsup.buildloop.phases import (
    complete_marker,
    current_index,
    next_step,
    resolve_index,
    role_model,
    set_index,
    status_path,
    text_is_done,
)
from agentsup.buildloop.prompts import agent_prompt
from agentsup.config.load import load_config
from agentsup.errors import ConfigError

from ..conftest import ROOT


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("## DONE\nAll gates passed; adversary PASS in REVIEW-p1.md\n", True),
        ("# Status\n\n## DONE\n\n\nShipped v1.\n", True),
        ("## DONE — 2026-06-10\nshipped\n", True),
        ("## DONE\n", False),  # a marker with no verdict under it
        ("## DONE\nnot yet\n", False),
        ("## DONE\nNot done\n", False),
        ("## DONE\n(not complete)\n", False),
        ("## DONE\nincomplete\n", False),
        ("## DONE\npending adversary review\n", False),
        ("## DONE\nTBD\n", False),
        ("## DONE\nN/A\n", False),
        ("## DONE\n_written here only when every gate passed_\n", False),
        ("## DONE\n[TBD]\n", False),
        ("## DONE\n- shipped the parser and the lexer\n", True),
        ("## DONE\n> pending\n", False),
        ("## DONE\nonly when the adversary passes\n", False),
        ("## DONE\nto be written by the builder\n", False),
        ("## DONE\nwhen all gates pass\n", False),
        ("## DONE\n<summary of what was delivered>\n", False),
        ("## DONE\n...\n", False),
        ("## Progress\nthe DONE marker comes later\n", False),
        ("  ## DONE\nshipped\n", False),  # must start the line
        ("## DONE\nnot yet\n## DONE\nshipped after all\n", True),  # a later real marker counts
    ],
)
def test_done_marker_and_placeholders(text: str, done: bool) -> None:
    assert text_is_done(text, "## DONE") is done


def make(tmp_path: Path, phases: str = "p1 p2", extra: str = "") -> Path:
    entries = ", ".join(f'{{ id = "{p}", plan = "plan-{p}.md", status = "STATUS-{p}.md", models = '
                        f'{{ builder = "model-{p}" }} }}' for p in phases.split())
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "builder.md").write_text("ROLE: build it\n")
    (tmp_path / "repo" / "machine-docs").mkdir(parents=True, exist_ok=True)
    body = textwrap.dedent(f"""
        [defaults]
        log_dir = "logs"
        [loop]
        phases = [{entries}]
        [loop.handoff]
        repo = "repo"
        [[agent]]
        name = "builder"
        kind = "loop"
        role = "builder"
        model = "base"
    """) + extra
    path = tmp_path / "agents.toml"
    path.write_text(body)
    return path


def test_status_file_is_found_in_docs_dir_then_repo_root(tmp_path: Path) -> None:
    cfg = load_config(make(tmp_path), environ={})
    assert status_path(cfg, "STATUS-p1.md") == tmp_path / "repo" / "STATUS-p1.md"
    (tmp_path / "repo" / "machine-docs" / "STATUS-p1.md").write_text("x")
    assert status_path(cfg, "STATUS-p1.md") == tmp_path / "repo" / "machine-docs" / "STATUS-p1.md"


def test_next_step_advances_then_completes_once_then_resumes_on_append(tmp_path: Path) -> None:
    cfg = load_config(make(tmp_path), environ={})
    docs = tmp_path / "repo" / "machine-docs"
    assert next_step(cfg) is None
    (docs / "STATUS-p1.md").write_text("## DONE\nnot yet\n")
    assert next_step(cfg) is None
    (docs / "STATUS-p1.md").write_text("## DONE\nall gates passed\n")
    step = next_step(cfg)
    assert step is not None and (step.kind, step.index, step.next_id) == ("advance", 1, "p2")
    set_index(cfg, 1)
    (docs / "STATUS-p2.md").write_text("## DONE\nshipped\n")
    step = next_step(cfg)
    assert step is not None and step.kind == "complete"
    complete_marker(cfg).parent.mkdir(parents=True, exist_ok=True)
    complete_marker(cfg).write_text("done")
    assert next_step(cfg) is None  # idempotent once the marker exists
    cfg3 = load_config(make(tmp_path, "p1 p2 p3"), environ={})  # a phase appended after completion
    step = next_step(cfg3)
    assert step is not None and (step.kind, step.next_id) == ("advance", "p3")


def test_auto_advance_off_never_steps(tmp_path: Path) -> None:
    path = make(tmp_path)
    path.write_text(path.read_text().replace("[loop]\n", "[loop]\nauto_advance = false\n"))
    (tmp_path / "repo" / "machine-docs" / "STATUS-p1.md").write_text("## DONE\nshipped\n")
    assert next_step(load_config(path, environ={})) is None


def test_index_is_clamped_and_validated(tmp_path: Path) -> None:
    cfg = load_config(make(tmp_path), environ={})
    assert current_index(cfg) == 0
    set_index(cfg, 7)
    assert current_index(cfg) == 1  # a stale index past the end is clamped
    assert resolve_index(cfg, "p2") == 1 and resolve_index(cfg, "0") == 0
    with pytest.raises(ConfigError, match=r"out of range.*0\.\.1: p1 p2"):
        resolve_index(cfg, "2")
    with pytest.raises(ConfigError, match="unknown phase 'p9'"):
        resolve_index(cfg, "p9")


def test_kickoff_uses_the_phase_and_the_per_phase_model(tmp_path: Path) -> None:
    cfg = load_config(make(tmp_path), environ={})
    builder = cfg.agents["builder"]
    assert role_model(cfg, builder) == "model-p1"
    text = agent_prompt(cfg, builder)
    assert "PHASE p1 (1 of 2)" in text and str(tmp_path / "plan-p1.md") in text
    assert "machine-docs/STATUS-p1.md" in text and text.rstrip().endswith("ROLE: build it")
    set_index(cfg, 1)
    assert role_model(cfg, builder) == "model-p2"
    assert "PHASE p2 (2 of 2)" in agent_prompt(cfg, builder)


def test_project_kickoff_template_wins(tmp_path: Path) -> None:
    cfg = load_config(make(tmp_path), environ={})
    (tmp_path / "prompts" / "kickoff.md").write_text("Phase ${phase_id}: plan ${plan}; status ${status_path}; "
                                                     "keep $$ and ${unknown} as they are\n")
    text = agent_prompt(cfg, cfg.agents["builder"])
    status = tmp_path / "repo" / "machine-docs" / "STATUS-p1.md"  # absolute: agents work in other directories
    assert text.startswith(f"Phase p1: plan plan-p1.md; status {status}; keep $ and ${{unknown}}")


def test_shipped_kickoff_template_names_every_placeholder_it_uses() -> None:
    template = (ROOT / "prompts" / "kickoff.md").read_text()
    import re

    used = set(re.findall(r"\$\{(\w+)\}", template))
    known = {"phase_id", "phase_number", "phase_count", "plan", "plan_path", "status", "status_path",
             "docs_dir", "done_marker", "role", "agent"}
    assert used <= known, used - known
