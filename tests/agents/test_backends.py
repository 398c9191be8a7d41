"""Launch argv rendering: every value stays one argument; presets carry the right flags."""

from __future__ import annotations

import sys

import pytest

from agentsup.agents.backends import PRESETS, render_launch, resolve_backend
from agentsup.config.schema import BackendSpec

HOSTILE = "'; rm -rf ~ #"


def plan(name: str, spec: BackendSpec | None = None, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(session="s", cwd="/w", model="", prompt="", prompt_file="/k.txt",
                                   resume_id=None)
    args.update(kw)
    return render_launch(resolve_backend(name, vars(spec) if spec else None), **args)  # type: ignore[arg-type]


def test_claude_argv_with_model_resume_and_flags() -> None:
    p = plan("claude", model="opus", resume_id="abc-123", prompt="go")
    assert p.argv == ["claude", "--resume", "abc-123", "--model", "opus", "--dangerously-skip-permissions"]
    assert p.prompt_as_arg and p.typed_prompt is None


def test_hostile_values_stay_single_arguments() -> None:
    p = plan("claude", model=HOSTILE, resume_id=HOSTILE, prompt=HOSTILE)
    assert p.argv.count(HOSTILE) == 2
    assert "rm" not in p.argv  # nothing was word-split


def test_gemini_prompt_goes_after_its_flag() -> None:
    p = plan("gemini", prompt="go")
    assert p.argv[-1] == "--prompt-interactive" and p.prompt_as_arg


def test_opencode_types_a_pointer_to_the_kickoff_file() -> None:
    p = plan("opencode", prompt="long kickoff", model="gpt")
    assert not p.prompt_as_arg
    assert p.typed_prompt is not None and "/k.txt" in p.typed_prompt
    assert p.argv == ["opencode", "--model", "gpt"]


def test_opencode_server_mode_attaches_and_passes_model_in_env() -> None:
    p = plan("opencode", BackendSpec(server="http://127.0.0.1:4096"), model="gpt-5", cwd="/repo", prompt="x")
    assert p.argv[:5] == ["opencode", "attach", "http://127.0.0.1:4096", "--dir", "/repo"]
    assert p.env["OPENCODE_CONFIG_CONTENT"] == '{"model": "gpt-5"}'
    assert "--model" not in p.argv


def test_resume_only_when_supported() -> None:
    assert "--resume" not in plan("codex", resume_id="x").argv
    assert plan("sim", resume_id="x").argv[-2:] == ["--resume", "x"]


def test_sim_runs_this_python() -> None:
    assert plan("sim").argv[:3] == [sys.executable, "-m", "agentsup.sim"]


def test_table_overrides_only_the_fields_it_sets() -> None:
    backend = resolve_backend("claude", vars(BackendSpec(flags="--verbose", stall_idle=42)))
    assert backend.stall_idle == 42 and backend.flags == "--verbose"
    assert backend.model_flag == "--model" and backend.limit_re is not None


def test_new_backend_needs_bin() -> None:
    with pytest.raises(KeyError):
        resolve_backend("mine", vars(BackendSpec(flags="-x")))
    assert resolve_backend("mine", vars(BackendSpec(bin="aider --yes"))).program_argv() == ["aider", "--yes"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_has_detection_patterns(name: str) -> None:
    backend = resolve_backend(name, None)
    assert backend.active_re and backend.limit_re and backend.fatal_re and backend.waiting_input_re
    assert backend.process_names


def test_remote_control_passes_the_session_name() -> None:
    p = plan("claude", BackendSpec(remote_control=True), session="agentsup-builder")
    i = p.argv.index("--remote-control")
    assert p.argv[i + 1] == "agentsup-builder"
