"""agents.toml loading: every bad input is caught at load time with the file and key path named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentsup.config.files import find_config
from agentsup.config.load import load_config
from agentsup.errors import ConfigError

from ..conftest import ROOT


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_of(tmp_path: Path, body: str) -> str:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert str(path) in message, "the error must name the file"
    return message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[agent]]\nname = "a"\nbakend = "claude"\n',
         ["agent[0] (a).bakend", "unknown key", "did you mean 'backend'"]),
        ('[watchdog]\nsignal_intervall = 3\n', ["watchdog.signal_intervall", "did you mean 'signal_interval'"]),
        ('[backend.claude]\nlimit_regex = "x"\n', ["backend.claude.limit_regex", "did you mean 'limit_re'"]),
        ('[loop.handoff]\nrepo = "."\nclaim_ping = "x"\n', ["loop.handoff.claim_ping", "did you mean 'claim_pings'"]),
        ('[[agent]]\nname = "a"\n[[agent]]\nname = "b"\nbackend = "claud"\n',
         ["agent[1] (b).backend", "unknown backend 'claud'", "did you mean 'claude'"]),
        ('[[agent]]\nname = "a"\n[[agent]]\nname = "a"\n', ["agent[1] (a).name", "duplicate"]),
        ('[[agent]]\nname = "watchdog"\n', ["agent[0] (watchdog).name", "reserved"]),
        ('[[agent]]\nname = "a"\nsession = "/abs/path"\n', ["agent[0] (a).session", "not a valid tmux session name"]),
        ('[[agent]]\nname = "a"\nsession = "x/../../etc"\n', ["agent[0] (a).session", "'/'"]),
        ('[defaults]\nsession_prefix = "../"\n[[agent]]\nname = "a"\n', ["session '../a'", "not a valid"]),
        ('[loop]\nstate_file = "../../outside"\n', ["loop.state_file", "plain file name"]),
        ('[loop.on_complete]\ntrigger_file = "/tmp/x"\nrun = "a"\n[[agent]]\nname = "a"\nkind = "task"\n',
         ["loop.on_complete.trigger_file", "plain file name"]),
        ('[backend.claude]\nlimit_re = "resets (at"\n', ["backend.claude.limit_re", "invalid regular expression"]),
        ('[[agent]]\nname = "a"\nprompt_file = "missing.md"\n', ["agent[0] (a).prompt_file", "file not found"]),
        ('[[agent]]\nname = "a"\nkind = "loop"\nrole = "builder"\n', ["agent[0] (a).role", "prompt file not found"]),
        ('[[agent]]\nname = "a"\nsession = "bad.name"\n', ["agent[0] (a).session", "not a valid tmux session"]),
        ('[[agent]]\nname = "a b"\n', ["agent[0] (a b).name", "not a valid name"]),
        ('[defaults]\nsession_prefix = "x:"\n[[agent]]\nname = "a"\n', ["agent[0] (a)", "session 'x:a'"]),
        ('[watchdog]\nsignal_interval = "fast"\n', ["watchdog.signal_interval", "got 'fast'"]),
        ('[[agent]]\nname = "a"\nwatch = "always"\n', ["agent[0] (a).watch", "'none', 'heal' or 'heal+stall'"]),
        ('[[agent]]\nkind = "task"\n', ["agent[0].name", "required key is missing"]),
        ('[backend.mine]\nflags = "-x"\n', ["backend.mine.bin", "required"]),
        ('[[service]]\nname = "s"\ncommand = ""\n', ["service[0] (s).command", "empty command"]),
        ('[[agent]]\nname = "a"\n[[service]]\nname = "a"\ncommand = "x"\n', ["service[0] (a).name", "duplicate"]),
        ('[[agent]]\nname = "t"\nkind = "task"\nafter = ["nope"]\n', ["agent (t).after[0]", "unknown agent 'nope'"]),
        ('[loop.on_complete]\nrun = "upgrader"\n', ["loop.on_complete.run", "unknown agent 'upgrader'"]),
    ],
)
def test_bad_config_names_key_path(tmp_path: Path, body: str, expected: list[str]) -> None:
    message = error_of(tmp_path, body)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[agent]]\nname = "a"\nbackend = "nope"\n[[agent]]\nname = "a"\n')
    assert "unknown backend 'nope'" in message and "duplicate" in message


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[agent]\nname = "a"\n')
    assert "not valid TOML" in message


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found.*AGENTSUP_CONFIG"):
        load_config(tmp_path / "nope.toml")


def test_dependency_cycle_is_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, """
        [[agent]]
        name = "a"
        kind = "task"
        after = ["b"]
        [[agent]]
        name = "b"
        kind = "task"
        after = ["a"]
    """)
    assert "dependency cycle" in message


SEED_STYLE = """
[defaults]
log_dir = "state-logs"
session_prefix = "cc-ci-"
dir = "work"

[watchdog]
signal_interval = 30
heavy_interval = 300
stall_grace = 180
limit_probe_fallback = 300
limit_reset_slack = 45

[backend.claude]
bin = "claude"
flags = "--dangerously-skip-permissions"
active_re = "esc to interrupt"
limit_re = "hit your (session|weekly) limit"
fatal_re = "API Error: 400"
supports_resume = true
remote_control = true
stall_idle = 300

[backend.opencode]
bin = "opencode"
server = "http://127.0.0.1:4096"
preamble = "cd /tmp"
connect_delay = 12
submit_key = "C-m"
active_re = "esc interrupt"
log_grace = 180

[loop]
state_file = "phase-idx"
done_marker = "## DONE"
auto_advance = true
resume_phase = true
phases = [
  { id = "p1", plan = "plan-p1.md", status = "STATUS-p1.md", models = { builder = "opus" } },
  { id = "p2", plan = "plan-p2.md", status = "STATUS-p2.md" },
]

[loop.handoff]
repo = "work/repo"
claim_pings = "adversary"
review_pings = "builder"
inboxes = ["ADVERSARY-INBOX.md", "BUILDER-INBOX.md"]

[loop.on_complete]
trigger_file = ".run-upgrade-on-complete"
run = "upgrader"

[[agent]]
name = "builder"
kind = "loop"
role = "builder"
backend = "claude"
model = "sonnet"
watch = "heal+stall"

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"
backend = "opencode"
watch = "heal+stall"

[[agent]]
name = "orchestrator"
backend = "claude"
resume = true
watch = "heal"
prompt_file = "prompts/orchestrator.md"
wake = { interval = 3600, prompt_file = "prompts/wake.md" }

[[agent]]
name = "upgrader"
kind = "task"
backend = "claude"
enabled = false
prompt = "upgrade things"

[[service]]
name = "opencode-server"
command = "opencode serve --port 4096"
"""


def test_seed_format_file_loads_unchanged(tmp_path: Path) -> None:
    for rel in ("prompts/builder.md", "prompts/adversary.md", "prompts/orchestrator.md", "prompts/wake.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("text\n")
    cfg = load_config(write(tmp_path, SEED_STYLE), environ={})
    assert list(cfg.agents) == ["builder", "adversary", "orchestrator", "upgrader"]
    builder = cfg.agents["builder"]
    assert builder.session == "cc-ci-builder"
    assert builder.dir == tmp_path / "work"  # [defaults].dir inherited, relative to the config
    assert cfg.agents["orchestrator"].kind == "persistent"  # the seed's default kind
    assert cfg.agents["orchestrator"].wake is not None
    assert cfg.agents["orchestrator"].wake.prompt_file == tmp_path / "prompts/wake.md"
    assert cfg.backends["claude"].remote_control is True
    assert cfg.backends["opencode"].submit_key == "C-m"
    assert cfg.backends["opencode"].server == "http://127.0.0.1:4096"
    assert cfg.backends["claude"].limit_re is not None
    assert cfg.backends["claude"].limit_re.pattern == "hit your (session|weekly) limit"
    # fields the table does not set still come from the preset
    assert cfg.backends["claude"].model_flag == "--model"
    assert cfg.services["opencode-server"].argv == ("opencode", "serve", "--port", "4096")
    assert cfg.state_dir == tmp_path / "state-logs" / "state"
    assert [p.id for p in cfg.loop.phases] == ["p1", "p2"]
    assert cfg.loop.phases[0].models == {"builder": "opus"}
    assert cfg.watchdog.limit_reset_slack == 45


def test_defaults_match_the_seed(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[[agent]]\nname = "a"\n'), environ={})
    wd = cfg.watchdog
    assert (wd.signal_interval, wd.heavy_interval, wd.stall_grace) == (30, 300, 180)
    assert (wd.limit_probe_fallback, wd.limit_reset_slack) == (300, 45)
    assert cfg.loop.done_marker == "## DONE" and cfg.loop.state_file == "phase-idx"
    agent = cfg.agents["a"]
    assert (agent.kind, agent.watch, agent.enabled) == ("persistent", "none", True)
    assert cfg.backends["claude"].stall_idle == 300 and cfg.backends["claude"].submit_key == "Enter"


def test_env_overrides_apply_to_one_invocation(tmp_path: Path) -> None:
    path = write(tmp_path, '[[agent]]\nname = "a"\nmodel = "sonnet"\n')
    env = {"AGENT_MODEL_a": "opus", "AGENT_BACKEND_a": "sim"}
    cfg = load_config(path, environ=env)
    assert (cfg.agents["a"].model, cfg.agents["a"].backend) == ("opus", "sim")
    assert cfg.overrides == {"AGENT_MODEL_a": "opus", "AGENT_BACKEND_a": "sim"}
    watchdog_view = load_config(path, environ=env, apply_overrides=False)
    assert watchdog_view.agents["a"].model == "sonnet"


def test_backend_override_to_unknown_backend_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[[agent]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        load_config(path, environ={"AGENT_BACKEND_a": "nope"})


def test_config_discovery_order(tmp_path: Path) -> None:
    assert find_config("x.toml", {"AGENTSUP_CONFIG": "y.toml"}) == Path("x.toml")
    assert find_config(None, {"AGENTSUP_CONFIG": "y.toml"}) == Path("y.toml")
    assert find_config(None, {}, cwd=tmp_path) == Path("agents.toml")  # none anywhere up: ./agents.toml
    (tmp_path / "agents.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(None, {}, cwd=deep) == tmp_path / "agents.toml"  # the nearest one up the tree


def test_shipped_example_config_is_valid() -> None:
    root = ROOT
    cfg = load_config(root / "agents.toml", environ={})
    assert cfg.agents, "the example declares agents"


TEMPLATES = """
[template.worker]
backend = "sim"
kind = "task"
prompt = "fix {{issue}} in {{repo}} as {{name}}"
args = ["--record", "{{name}}.jsonl"]
dir = "work/{{repo}}"
vars = { repo = "core", issue = "none" }

[[agent]]
name = "w1"
template = "worker"
vars = { issue = "#12" }

[[agent]]
name = "w2"
template = "worker"
kind = "persistent"
vars = { issue = "#13", repo = "web" }
"""


def test_template_keys_and_vars_are_taken_unless_the_agent_sets_them(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, TEMPLATES), environ={})
    w1, w2 = cfg.agents["w1"], cfg.agents["w2"]
    assert (w1.kind, w1.backend, w2.kind) == ("task", "sim", "persistent"), "the agent's own keys win"
    assert w1.prompt == "fix #12 in core as w1" and w2.prompt == "fix #13 in web as w2"
    assert w1.args == ("--record", "w1.jsonl") and w1.dir == tmp_path / "work" / "core"
    assert w2.dir == tmp_path / "work" / "web"


def test_prompt_file_contents_are_filled_when_read(tmp_path: Path) -> None:
    from agentsup.buildloop.prompts import agent_prompt

    (tmp_path / "brief.md").write_text("Brief for {{name}}: ship {{feature}}.\n")
    cfg = load_config(write(tmp_path, '[template.t]\nprompt_file = "brief.md"\nbackend = "sim"\n'
                                      '[[agent]]\nname = "a"\ntemplate = "t"\nvars = { feature = "search" }\n'),
                      environ={})
    assert agent_prompt(cfg, cfg.agents["a"]) == "Brief for a: ship search.\n"


@pytest.mark.parametrize(("body", "expected"), [
    ('[template.t]\nprompt = "do {{thing}}"\n[[agent]]\nname = "a"\ntemplate = "t"\n',
     ["agent[0] (a).prompt: unknown template variable {{thing}}", "vars: name"]),
    ('[template.t]\nargs = ["--x", "{{flag}}"]\n[[agent]]\nname = "a"\ntemplate = "t"\nvars = { other = "1" }\n',
     ["agent[0] (a).args[1]: unknown template variable {{flag}}", "vars: name, other"]),
    ('[template.worker]\nbackend = "sim"\n[[agent]]\nname = "a"\ntemplate = "wroker"\n',
     ["agent[0] (a).template: unknown template 'wroker'", "did you mean 'worker'"]),
    ('[template.t]\nname = "x"\n', ["template.t.name: unknown key 'name'"]),
    ('[template.t]\nwatch = "sometimes"\n', ["template.t.watch", "'none', 'heal' or 'heal+stall'"]),
])
def test_template_mistakes_are_config_errors_that_name_them(tmp_path: Path, body: str, expected: list[str]) -> None:
    message = error_of(tmp_path, body)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_an_unknown_variable_in_a_prompt_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "brief.md").write_text("ship {{feature}} by {{deadline}}\n")
    message = error_of(tmp_path, '[[agent]]\nname = "a"\nprompt_file = "brief.md"\nvars = { feature = "x" }\n')
    assert "agent[0] (a).prompt_file: unknown template variable {{deadline}}" in message


def test_without_a_template_or_vars_braces_stay_as_written(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[[agent]]\nname = "a"\nprompt = "render {{ item }} in jinja"\n'), environ={})
    assert cfg.agents["a"].prompt == "render {{ item }} in jinja"
