"""Built-in backend presets and the rendering of an agent's launch argv.

Patterns are data: a `[backend.NAME]` table overrides any field of the preset with that name, or
defines a new backend (then `bin` is required). Nothing here builds a shell string: the argv goes to
tmux as a list and the prompt reaches the program as one argument.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agentsup.tmux.delivery import InputBox

PromptMode = Literal["arg", "type", "none"]  # how the kickoff prompt reaches the program

# Claude Code, Codex, opencode and Gemini banners as they print them; kept narrow so ordinary output
# that merely mentions "rate limit" or "429" is not taken for a limit.
# Claude Code's subscriber banners, and its API-key 429 ("API Error: Request rejected (429)"), a
# limit without a reset time (probed). Captures of the real programs: tests/realcli/screens/.
_CLAUDE_LIMIT = (
    r"(hit your (session|weekly|usage|daily|opus|sonnet|5-hour) limit|Claude usage limit reached"
    r"|limit will reset at|Usage limit reached\s*·|API Error: Request rejected \(429\))"
)
# Claude Code's own retries used up on a server error (500, 529 Overloaded): agentsup retries later.
# Also transient, never a usage limit (strings of 2.1.332): a subscriber's 429 that is no usage limit
# ("Server is temporarily limiting requests (not your usage limit)"), and a run of 529s on Opus.
_CLAUDE_TRANSIENT = (r"(API Error: 5\d\d\b|Resend your message to try again"
                     r"|Server is temporarily limiting requests|Repeated 529 Overloaded errors)")
_CODEX_LIMIT = r"(You[’']ve hit your usage limit|You have hit your usage limit)"  # codex writes U+2019
# Gemini CLI 0.61 against the mock: a daily quota opens "Usage limit reached for all Pro models."
# with "1. Keep trying / 2. Stop"; after Stop it reports "[API Error: You have exhausted your daily
# quota on this model.]". A capacity 429 it waits out silently (busy) for the retryDelay the server
# sent. Its capacity wording ("We are currently experiencing high demand for M." then "Access resets
# at 4:00 PM UTC.") is from its own source.
_GEMINI_LIMIT = (r"(Usage limit reached for [\w .-]+|Quota exceeded for quota metric|You exceeded your current quota"
                 r"|You have exhausted your (daily quota|capacity)"
                 r"|We are currently experiencing high demand for [\w .-]+)")
# opencode names an absolute reset when the provider gives one: "Your limit will reset at
# 2026-11-21 20:30:24 [retrying in 2m 22s #8]" (the form its source prints for an absolute time).
_OPENCODE_LIMIT = (r"(Usage limit reached\. It will reset|usage limit has been reached"
                   r"|limit will reset at \d{4}-\d{2}-\d{2})")

PRESETS: dict[str, dict[str, Any]] = {
    "claude": {
        "bin": "claude",
        "flags": "--dangerously-skip-permissions",
        "model_flag": "--model",
        "resume_flag": "--resume",
        "prompt_flag": "",
        "prompt_mode": "arg",
        "active_re": r"esc to interrupt",
        "limit_re": _CLAUDE_LIMIT,
        "fatal_re": r"(Unable to connect to Anthropic services|OAuth token has expired|Invalid API key"
        r"|API Error: 401|Please run /login|cannot be used with root/sudo privileges)",
        "waiting_input_re": r"(Do you want to proceed\?|Do you want to make this edit|Do you want to create"
        r"|Do you trust the files in this folder\?|Quick safety check: .*trust\?|Do you want to use this API key\?"
        r"|running in Bypass Permissions mode)",
        "auto_continue_re": r"(set to continue automatically|Continuing automatically|Continuing shortly)",
        "transient_re": _CLAUDE_TRANSIENT,
        "limit_menu_re": r"Stop and wait for limit to reset",
        "limit_menu_keys": ["Enter"],  # option 1, "Stop and wait", is the highlighted one
        # The input box is the last "❯" row (older releases: "│ > … │"); a menu's cursor is not a draft.
        "input_re": r"^\s*(?:❯|│\s*>)\s?(.*?)\s*│?$",
        "input_idle_re": r"^(\d+\.\s.*|Try \".*\"|Resend your message to try again)$",
        # a prompt it was given, in its transcript: what came above it is an earlier turn's (a slash
        # command is no turn: claude types `/rate-limit-options` itself to open its limit menu)
        "turn_open_re": r"^(?:❯|>) (?!/)\S",
        "stall_idle": 300,
        "submit_key": "Enter",
        "supports_resume": True,
        "session_flag": "--session-id",
        "signals": "claude",
        "process_names": ["claude", "claude.exe"],
    },
    "codex": {
        "bin": "codex",
        "flags": "--dangerously-bypass-approvals-and-sandbox",
        "model_flag": "--model",
        "resume_flag": "resume",  # a subcommand: codex resume <id> [options] [prompt]
        "prompt_flag": "",
        "prompt_mode": "arg",
        "active_re": r"(esc to interrupt|Esc to interrupt)",
        "limit_re": _CODEX_LIMIT,
        # "stream disconnected before completion" is transient: codex retries or waits for input.
        "fatal_re": r"(401 Unauthorized|Not logged in|Error loading configuration)",
        "transient_re": r"(stream disconnected before completion|Reconnecting\.\.\.)",
        "waiting_input_re": r"(Allow command\?|Would you like to run the following command\?|\[y/N\])",
        # While codex streams an answer it may show no "Working" line: a turn is open from the
        # user's prompt line until its "Worked for" line (or an error, marked ■).
        "turn_open_re": r"^› (?!Ask Codex to do anything)\S",
        "turn_close_re": r"^\s*(─* ?Worked for |■ )",
        "input_re": r"^\s*›\s?(.*)$",
        "input_idle_re": (r"^(Ask Codex to do anything|Ask a follow-up question|Write a prompt or slash command"
                          r"|\d+\.\s.*)$"),  # a menu's cursor row ("› 1. Yes, proceed (y)") is not a draft
        "session_store": "codex",  # codex chooses its session id; agentsup reads it back to resume
        "stall_idle": 300,
        "submit_key": "Enter",
        "supports_resume": True,
        "process_names": ["codex"],
    },
    "opencode": {
        "bin": "opencode",
        "flags": "",
        "model_flag": "--model",
        "resume_flag": "--session",
        "prompt_flag": "",
        "prompt_mode": "type",
        "active_re": r"esc (to )?interrupt",
        "limit_re": _OPENCODE_LIMIT,
        # opencode waits out a limit by itself: hold it, never nudge or restart it meanwhile
        "self_retry_re": r"\[retrying in [^\]]*(?:attempt )?#\d+\]",
        "fatal_re": r"(ProviderAuthError|Unauthorized: invalid api key)",
        "waiting_input_re": r"(Permission required|Allow once)",
        "stall_idle": 300,
        "submit_key": "Enter",
        "supports_resume": False,
        "log_grace": 180,
        "connect_delay": 12,
        "active_bottom_lines": 10,
        "process_names": ["opencode"],
    },
    "gemini": {
        "bin": "gemini",
        "flags": "--yolo",
        "model_flag": "--model",
        "resume_flag": "",
        "prompt_flag": "--prompt-interactive",
        "prompt_mode": "arg",
        "active_re": r"\(esc to cancel",
        "limit_re": _GEMINI_LIMIT,
        "limit_menu_re": r"1\. Keep trying",
        # "Stop": then agentsup holds and nudges. A number alone chooses; "2" and Enter written at once
        # were taken for a paste and left "2" in the input box (0.61, live)
        "limit_menu_keys": ["2"],
        # the input row: ">" (or "*" in YOLO mode, "!" in shell mode), below the "> prompt" history
        # rows; a menu or question replaces it, its cursor ("● 1. Keep trying") the lowest such row
        "input_re": r"^\s*│?\s*[>*!●]\s+(.*?)\s*│?$",
        "turn_open_re": r"^\s*> \S",  # a prompt it was given, in its transcript
        "input_idle_re": r"^(Type your message or @path/to/file|\d+\.\s.*)$",
        "fatal_re": r"(Failed to login|API key not valid)",
        "waiting_input_re": r"(Allow execution( of [^?\n]*)?\?|Apply this change\?)",
        "stall_idle": 300,
        "submit_key": "Enter",
        "supports_resume": False,
        "process_names": ["gemini"],
    },
    "sim": {
        "bin": "{python} -m agentsup.sim",
        "flags": "",
        "model_flag": "--model",
        "resume_flag": "--resume",
        "prompt_flag": "",
        "prompt_mode": "arg",
        "active_re": r"esc to interrupt",
        "limit_re": _CLAUDE_LIMIT + "|" + _CODEX_LIMIT,
        "fatal_re": r"FATAL: ",
        "transient_re": _CLAUDE_TRANSIENT,
        "waiting_input_re": r"Do you want to proceed\?",
        "auto_continue_re": r"(set to continue automatically|Continuing automatically|Continuing shortly)",
        "input_re": r"^> (.*)$",
        "turn_open_re": r"^› \S",  # a message it was given, in its transcript
        "stall_idle": 300,
        "submit_key": "Enter",
        "supports_resume": True,
        "process_names": ["agentsup-sim"],
    },
}

_BASE: dict[str, Any] = {
    "flags": "",
    "model_flag": "",
    "resume_flag": "",
    "prompt_flag": "",
    "prompt_mode": "arg",
    "active_re": None,
    "limit_re": None,
    "fatal_re": None,
    "waiting_input_re": None,
    "auto_continue_re": None,
    "transient_re": None,
    "self_retry_re": None,
    "limit_menu_re": None,
    "turn_open_re": None,
    "turn_close_re": None,
    "input_re": None,
    "input_idle_re": None,
    "ready_re": None,
    "limit_menu_keys": [],
    "session_flag": "",
    "session_store": "",
    "signals": "",
    "stall_idle": 300,
    "submit_key": "Enter",
    "supports_resume": False,
    "remote_control": False,
    "log_grace": 0,
    "preamble": "",
    "server": "",
    "connect_delay": 0,
    "process_names": [],
    "active_bottom_lines": 0,
    "env": {},
}


PATTERN_FIELDS = ("active_re", "limit_re", "fatal_re", "waiting_input_re", "auto_continue_re", "transient_re",
                  "self_retry_re", "limit_menu_re", "turn_open_re", "turn_close_re", "input_re", "input_idle_re",
                  "ready_re")


def _rx(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern, re.IGNORECASE) if pattern else None


@dataclass(frozen=True)
class Backend:
    """A backend with every field resolved and its patterns compiled."""

    name: str
    bin: str
    flags: str
    model_flag: str
    resume_flag: str
    prompt_flag: str
    prompt_mode: PromptMode
    active_re: re.Pattern[str] | None
    limit_re: re.Pattern[str] | None
    fatal_re: re.Pattern[str] | None
    waiting_input_re: re.Pattern[str] | None
    auto_continue_re: re.Pattern[str] | None
    transient_re: re.Pattern[str] | None
    self_retry_re: re.Pattern[str] | None
    limit_menu_re: re.Pattern[str] | None
    turn_open_re: re.Pattern[str] | None
    turn_close_re: re.Pattern[str] | None
    input_re: re.Pattern[str] | None
    input_idle_re: re.Pattern[str] | None
    ready_re: re.Pattern[str] | None
    limit_menu_keys: tuple[str, ...]
    session_flag: str
    session_store: str
    signals: str
    stall_idle: float
    submit_key: str
    supports_resume: bool
    remote_control: bool
    log_grace: float
    preamble: str
    server: str
    connect_delay: float
    process_names: tuple[str, ...]
    active_bottom_lines: int
    env: Mapping[str, str] = field(default_factory=dict)

    def input_box(self) -> InputBox | None:
        from agentsup.tmux.delivery import InputBox

        return InputBox(self.input_re, self.input_idle_re) if self.input_re is not None else None

    @property
    def judges_ready(self) -> bool:
        """Can a start be judged ready (so `start_timeout` applies)? Only when the backend names
        its input box or its ready screen: any other output could be a splash that never ends."""
        return self.input_re is not None or self.ready_re is not None

    def program_argv(self) -> list[str]:
        return [sys.executable if w == "{python}" else w for w in shlex.split(self.bin)]


def resolve_backend(name: str, overrides: Mapping[str, Any] | None) -> Backend:
    """Preset (if any) overlaid with `overrides` (the fields a [backend.NAME] table sets). Raises
    KeyError if neither gives `bin`."""
    values: dict[str, Any] = {**_BASE, **PRESETS.get(name, {})}
    if overrides:
        values.update({k: v for k, v in overrides.items() if v is not None})
    if not values.get("bin"):
        raise KeyError("bin")
    for key in PATTERN_FIELDS:
        values[key] = _rx(values[key])
    values["process_names"] = tuple(values["process_names"])
    values["limit_menu_keys"] = tuple(values["limit_menu_keys"])
    values["env"] = dict(values["env"])
    return Backend(name=name, **values)


@dataclass(frozen=True)
class LaunchPlan:
    """What to run for one agent: argv, extra environment, and a prompt to type afterwards."""

    argv: list[str]
    env: dict[str, str]
    prompt_as_arg: bool  # the wrapper appends the prompt file's text as the last argument
    typed_prompt: str | None  # delivered through the pane once the TUI is up
    prompt_prefix: str = ""  # glued before the prompt in that one argument (`--flag=` for a dash prompt)


def render_launch(
    backend: Backend,
    *,
    session: str,
    cwd: str,
    model: str,
    prompt: str,
    prompt_file: str,
    resume_id: str | None,
    extra_args: tuple[str, ...] = (),
    identity: tuple[str, ...] = (),
) -> LaunchPlan:
    """Build the argv of an agent. Every value stays one argv element; nothing is shell-parsed."""
    argv = backend.program_argv()
    env = dict(backend.env)
    if backend.server:
        # The seed's opencode mode: attach a thin client to a running server; model via config env.
        argv += ["attach", backend.server, "--dir", cwd]
        if model:
            env["OPENCODE_CONFIG_CONTENT"] = json.dumps({"model": model})
        model = ""
    if resume_id and backend.supports_resume and backend.resume_flag:
        argv += [backend.resume_flag, resume_id]
    argv += identity  # agentsup's own: the session id it chose, the settings that add its hooks
    if backend.remote_control:
        argv += ["--remote-control", session]
    if model and backend.model_flag:
        argv += [backend.model_flag, model]
    argv += shlex.split(backend.flags)
    argv += extra_args
    prompt_as_arg = bool(prompt) and backend.prompt_mode == "arg" and not backend.server
    typed: str | None = None
    if prompt and not prompt_as_arg and backend.prompt_mode != "none":
        # A long prompt typed into a TUI is fragile; point the agent at the saved file instead.
        typed = f"Your full kickoff prompt is in {prompt_file} - read it now, then follow it exactly."
    # A prompt that starts with "-" must reach the program as text, never as a flag: glue it to a
    # long flag (`--prompt-interactive=-x`), or end the options before it (`-- -x`).
    prefix = ""
    dash = prompt.startswith("-")
    if prompt_as_arg and backend.prompt_flag:
        if dash and backend.prompt_flag.startswith("--"):
            prefix = backend.prompt_flag + "="
        else:
            argv.append(backend.prompt_flag)
    elif prompt_as_arg and dash:
        argv.append("--")
    return LaunchPlan(argv=argv, env=env, prompt_as_arg=prompt_as_arg, typed_prompt=typed, prompt_prefix=prefix)

