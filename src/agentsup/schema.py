"""The shape of agents.toml: pydantic models, one per table, with the seed's defaults.

Field descriptions double as the README's key reference (`agentsup config-reference`), so they
cannot drift from what the loader accepts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["loop", "persistent", "orchestrator", "task"]
Watch = Literal["none", "heal", "heal+stall"]
PromptMode = Literal["arg", "type", "none"]

# Keys of [defaults] that are copied into every [[agent]] that does not set them (as the seed does).
INHERITED_AGENT_KEYS = ("dir", "backend", "model", "watch", "resume", "enabled")

# tmux treats '.' and ':' as target separators and '=' as the exact-match prefix; '#' starts a format.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
# '/' too: a session name is also a file name in the log and state directories.
_SESSION_RE = re.compile(r"^[^\s.:=#/\\\x00-\x1f\x7f][^\s.:#/\\\x00-\x1f\x7f]{0,99}$")


def check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits, '_' and '-' (max 64), "
            "starting with a letter, digit or '_'"
        )
    return value


def check_file_name(value: str) -> str:
    """A file agentsup creates inside its own directory: one plain name, never a path out of it."""
    if not value or "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
        raise ValueError(f"{value!r} must be a plain file name (no '/', no '..'): it lives inside log_dir")
    return value


def check_session(value: str) -> str:
    if not _SESSION_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid tmux session name: no whitespace, '.', ':', '#', '/', '\\', "
            "control characters, or a leading '='"
        )
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TmuxSettings(Model):
    socket: str = Field(
        "agentsup",
        description="tmux socket: a name (tmux -L) or a path containing '/' (tmux -S); unset: agentsup-<hash of "
        "the config's path>. Env AGENTSUP_SOCKET overrides it.",
    )
    bin: str = Field("tmux", description="tmux binary")
    timeout: float = Field(5.0, gt=0, description="seconds before any tmux call is abandoned")
    width: int = Field(200, ge=20, description="columns of new agent windows")
    height: int = Field(50, ge=5, description="rows of new agent windows")


class WatchdogSettings(Model):
    signal_interval: float = Field(30, gt=0, description="light tick: limits, stalls, handoff pings")
    heavy_interval: float = Field(300, gt=0, description="heavy tick: heal, phase advance")
    poll_interval: float = Field(1.0, gt=0, description="cheap snapshot that notices deaths")
    stall_grace: float = Field(180, ge=0, description="grace after a WAITING-UNTIL deadline")
    limit_probe_fallback: float = Field(300, gt=0, description="probe period when no reset time parses")
    limit_reset_slack: float = Field(45, ge=0, description="wait this long past a parsed reset time")
    limit_max_hold: float = Field(
        6 * 3600, gt=0, description="a parsed reset further away than this is distrusted; probe instead"
    )
    limit_probe_max: float = Field(1800, gt=0, description="probe backoff doubles up to this")
    backoff_initial: float = Field(5, ge=0, description="first restart delay after a crash")
    backoff_max: float = Field(300, ge=0, description="restart delay doubles up to this")
    restart_window: float = Field(3600, gt=0, description="sliding window for the restart budget")
    restart_max: int = Field(10, ge=1, description="restarts within the window before FATAL")
    fatal_cooldown: float = Field(1800, gt=0, description="FATAL agents are retried after this")
    start_grace: float = Field(20, ge=0, description="a program dying this soon after start failed to start")
    start_timeout: float = Field(
        120, ge=0, description="an agent whose screen stays blank this long after its start is restarted; 0 = off")
    stop_timeout: float = Field(10, gt=0, description="seconds between SIGTERM and SIGKILL when stopping an agent")
    reload_settle: float = Field(0.3, ge=0, description="agents.toml must be still this long before a reload")
    delivery_retries: int = Field(3, ge=1, description="submit-key presses before a message is stranded")
    journal_max_bytes: int = Field(5_000_000, ge=10_000, description="events.jsonl rotates past this")


class BackendSpec(Model):
    """A [backend.NAME] table. Unset fields come from the preset of the same name."""

    bin: str | None = Field(None, description="program (split like a shell word list; {python} = this Python)")
    flags: str | None = Field(None, description="extra arguments, split like shell words")
    model_flag: str | None = Field(None, description="flag that takes the model; empty = no model flag")
    resume_flag: str | None = Field(None, description="flag that takes the resume id")
    prompt_flag: str | None = Field(None, description="flag before the prompt argument; empty = positional")
    prompt_mode: PromptMode | None = Field(
        None, description="arg: prompt is the last argument; type: typed once the TUI is up; none"
    )
    active_re: str | None = Field(None, description="the agent is busy (bottom of screen)")
    limit_re: str | None = Field(None, description="a usage-limit banner")
    fatal_re: str | None = Field(None, description="an error the agent cannot recover from")
    waiting_input_re: str | None = Field(None, description="a question or permission prompt for a human")
    auto_continue_re: str | None = Field(None, description="the agent resumes by itself after its limit")
    transient_re: str | None = Field(
        None, description="an error the program recovers from by itself (shown, never acted on)")
    self_retry_re: str | None = Field(
        None, description="the program waits out a limit by itself (held, never nudged or restarted)")
    limit_menu_re: str | None = Field(
        None, description="a menu the program opens on a usage limit (it owns the keyboard)")
    limit_menu_keys: list[str] | None = Field(None, description="tmux keys that answer that menu so the input is free")
    turn_open_re: str | None = Field(None, description="a line that opens a turn (the user's prompt in the history)")
    turn_close_re: str | None = Field(None, description="a line that closes a turn; open and not closed = working")
    input_re: str | None = Field(
        None, description="the input box's row (the last one that matches); group 1 is what is typed there")
    input_idle_re: str | None = Field(
        None, description="what the input box shows with nothing typed (a placeholder, a menu's cursor)")
    session_flag: str | None = Field(
        None, description="flag that sets the session id agentsup chooses (claude --session-id)")
    session_store: Literal["", "codex"] | None = Field(
        None, description="where the CLI keeps the session id it chose (codex): read back to resume on a heal")
    signals: Literal["", "claude"] | None = Field(
        None, description="structured signals to read besides the screen: claude = hooks, status line, session file")
    stall_idle: float | None = Field(None, description="seconds of unchanged, inactive screen = stalled")
    submit_key: str | None = Field(None, description="tmux key name that submits typed text")
    supports_resume: bool | None = Field(None, description="pass state/<name>.id with resume_flag")
    remote_control: bool | None = Field(None, description="claude: pass --remote-control <session>")
    log_grace: float | None = Field(
        None, description="a pane that printed within this many seconds counts as active (the seed's opencode log)")
    preamble: str | None = Field(None, description="operator shell snippet run before the program")
    server: str | None = Field(None, description="opencode: attach to this server instead of a TUI")
    connect_delay: float | None = Field(None, description="seconds to wait before typing the prompt")
    process_names: list[str] | None = Field(None, description="process names the program runs as")
    active_bottom_lines: int | None = Field(None, description="lines from the bottom searched for active_re")
    env: dict[str, str] | None = Field(None, description="environment for the program")

    @field_validator("active_re", "limit_re", "fatal_re", "waiting_input_re", "auto_continue_re", "transient_re",
                     "self_retry_re", "limit_menu_re", "turn_open_re", "turn_close_re", "input_re", "input_idle_re")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value


class WakeSpec(Model):
    interval: float = Field(3600, gt=0, description="seconds between wakes of an idle agent")
    prompt_file: str | None = Field(None, description="message file (relative to the config)")
    prompt: str | None = Field(None, description="message text, when no prompt_file")


class _Named(Model):
    """A table that becomes a tmux session: a name, and optionally an explicit session name."""

    name: str = Field(description="unique name; the session is session_prefix + name")
    session: str | None = Field(None, description="tmux session name override")

    _n = field_validator("name")(check_name)

    @field_validator("session")
    @classmethod
    def _session_ok(cls, value: str | None) -> str | None:
        return None if value is None else check_session(value)


class AgentSpec(_Named):
    kind: Kind = Field("persistent", description="loop | persistent | orchestrator | task")
    role: str | None = Field(None, description="loop role; prompts/<role>.md is its standing prompt")
    backend: str = Field("claude", description="a preset (claude, codex, opencode, gemini, sim) or [backend.X]")
    model: str = Field("", description="model name; empty = the backend's default")
    enabled: bool = Field(True, description="started by `up` and kept alive by the watchdog")
    watch: Watch = Field("none", description="none | heal | heal+stall")
    resume: bool = Field(False, description="resume from state/<name>.id when the backend supports it")
    dir: str = Field(".", description="working directory (relative to the config)")
    prompt: str | None = Field(None, description="kickoff prompt text")
    prompt_file: str | None = Field(None, description="kickoff prompt file (relative to the config)")
    wake: WakeSpec | None = Field(None, description="scheduled ping while idle")
    after: list[str] = Field(default_factory=list, description="task: start after these tasks succeed")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment")
    args: list[str] = Field(default_factory=list, description="extra program arguments after the backend's flags")
    unattended: bool = Field(
        False, description="prepare the CLI's first run (onboarding, trust for this agent's dir) instead of a dialog")


class ServiceSpec(_Named):
    command: str | list[str] = Field(description="argv list, or a string split like shell words (no shell)")
    dir: str = Field(".", description="working directory (relative to the config)")
    enabled: bool = Field(True, description="started by `up`")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment")


class DefaultsSpec(Model):
    log_dir: str = Field(
        "~/.local/state/agentsup",
        description="logs, journal; state/ lives inside. Unset: ~/.local/state/agentsup/<dir>-<hash>, "
        "one per config")
    session_prefix: str = Field("agentsup-", description="prefix of every session name")
    dir: str | None = Field(None, description="default working directory of agents and services")
    backend: str | None = Field(None, description="default backend of agents")
    model: str | None = Field(None, description="default model of agents")
    watch: Watch | None = Field(None, description="default watch mode of agents")
    resume: bool | None = Field(None, description="default resume flag of agents")
    enabled: bool | None = Field(None, description="default enabled flag of agents")
    log_max_bytes: int = Field(10_000_000, ge=1024, description="a session log rotates past this size")
    log_backups: int = Field(3, ge=0, description="rotated session logs kept")


class PhaseSpec(Model):
    id: str = Field(description="phase id, used in prompts and status")
    plan: str = Field(description="plan file of the phase")
    status: str = Field(description="status file that gets the done marker")
    models: dict[str, str] = Field(default_factory=dict, description="per-role model override")


class HandoffSpec(Model):
    repo: str = Field(description="git clone whose remote both loop agents push to (relative to the config)")
    remote: str = Field("origin", description="remote to fetch")
    branch: str = Field("main", description="remote branch to watch")
    claim_pings: str = Field("adversary", description="agent pinged on a claim(...) commit")
    review_pings: str = Field("builder", description="agent pinged on a review(...) commit")
    inboxes: list[str] = Field(
        default_factory=list, description="inbox files; the first pings claim_pings, the second review_pings"
    )
    fetch_timeout: float = Field(30, gt=0, description="seconds before a git fetch is abandoned")


class OnCompleteSpec(Model):
    trigger_file: str = Field(".run-upgrade-on-complete", description="in log_dir; run only if it exists")
    run: str = Field("upgrader", description="agent started when the sequence completes")

    _file = field_validator("trigger_file")(check_file_name)


class LoopSpec(Model):
    phases: list[PhaseSpec] = Field(default_factory=list, description="the phase sequence")
    state_file: str = Field("phase-idx", description="phase index file in the state directory")
    done_marker: str = Field("## DONE", description="line prefix that marks a status file done")
    auto_advance: bool = Field(True, description="advance when the status file is done")
    resume_phase: bool = Field(True, description="false: `up` starts at phase 0 when no index is stored")
    docs_dir: str = Field("machine-docs", description="status files are looked up here first")

    _file = field_validator("state_file")(check_file_name)
    plan_dir: str = Field(".", description="where phase plans live (relative to the config)")
    handoff: HandoffSpec | None = Field(None, description="builder/adversary ping settings")
    on_complete: OnCompleteSpec | None = Field(None, description="task to run after the last phase")


NotifyKind = Literal["fatal", "limited", "waiting-input", "task-failed", "phase-advance", "sequence-complete",
                     "watchdog-degraded"]
NOTIFY_KINDS: tuple[NotifyKind, ...] = ("fatal", "limited", "waiting-input", "task-failed", "phase-advance",
                                        "sequence-complete", "watchdog-degraded")


class NotifySpec(Model):
    on: list[NotifyKind] = Field(default_factory=lambda: list(NOTIFY_KINDS), description="events that notify")
    command: list[str] = Field(
        default_factory=list, description="argv run per event (no shell); data in AGENTSUP_EVENT, AGENTSUP_AGENT, "
        "AGENTSUP_OLD_STATE, AGENTSUP_NEW_STATE, AGENTSUP_DETAIL")
    webhook: str | None = Field(None, description="URL that gets each event as a JSON POST")
    retries: int = Field(3, ge=1, le=10, description="attempts per event and channel")
    timeout: float = Field(10, gt=0, description="seconds per attempt")

    @field_validator("webhook")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class ConfigFile(Model):
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    notify: NotifySpec = Field(default_factory=NotifySpec)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
    tmux: TmuxSettings = Field(default_factory=TmuxSettings)
    backend: dict[str, BackendSpec] = Field(default_factory=dict)
    loop: LoopSpec = Field(default_factory=LoopSpec)
    agent: list[AgentSpec] = Field(default_factory=list)
    service: list[ServiceSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _inherit_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults")
        agents = data.get("agent")
        if not isinstance(defaults, dict) or not isinstance(agents, list):
            return data
        merged = []
        for agent in agents:
            if isinstance(agent, dict):
                inherited = {k: defaults[k] for k in INHERITED_AGENT_KEYS if k in defaults and k not in agent}
                agent = {**inherited, **agent}
            merged.append(agent)
        return {**data, "agent": merged}
