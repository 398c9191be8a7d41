"""The shape of agents.toml: one table class per TOML table, with the seed's defaults.

Field descriptions double as the README's key reference (`agentsup config-reference`) and the
JSON Schema (`agentsup schema`), so neither can drift from what the loader accepts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from agentsup.agents.backends import PromptMode
from agentsup.config.tables import Table, hints, spec, table_fields

Kind = Literal["loop", "persistent", "orchestrator", "task"]
Watch = Literal["none", "heal", "heal+stall"]

# Keys of [defaults] that are copied into every [[agent]] that does not set them (as the seed does).
INHERITED_AGENT_KEYS = ("dir", "backend", "model", "watch", "resume", "enabled", "worktree", "account", "hooks")

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



def check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


def check_http(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class TmuxSettings(Table):
    """The `[tmux]` table."""

    socket: str = spec(
        "agentsup",
        doc="tmux socket: a name (tmux -L) or a path containing '/' (tmux -S); unset: agentsup-<hash of "
        "the config's path>. Env AGENTSUP_SOCKET overrides it.",
    )
    bin: str = spec("tmux", doc="tmux binary")
    timeout: float = spec(5.0, gt=0, doc="seconds before any tmux call is abandoned")
    width: int = spec(200, ge=20, doc="columns of new agent windows")
    height: int = spec(50, ge=5, doc="rows of new agent windows")


class WatchdogSettings(Table):
    """The `[watchdog]` table."""

    signal_interval: float = spec(30, gt=0, doc="light tick: limits, stalls, handoff pings")
    heavy_interval: float = spec(300, gt=0, doc="heavy tick: heal, phase advance")
    poll_interval: float = spec(
        30.0, gt=0, doc="safety net: every pane is looked at this often even when nothing reported a death "
        "(deaths wake the watchdog at once; without tmux's reports it polls every second)")
    stall_grace: float = spec(180, ge=0, doc="grace after a WAITING-UNTIL deadline")
    limit_probe_fallback: float = spec(300, gt=0, doc="probe period when no reset time parses")
    limit_reset_slack: float = spec(45, ge=0, doc="wait this long past a parsed reset time")
    limit_max_hold: float = spec(
        6 * 3600, gt=0, doc="a parsed reset further away than this is distrusted; probe instead"
    )
    limit_probe_max: float = spec(1800, gt=0, doc="probe backoff doubles up to this")
    backoff_initial: float = spec(5, ge=0, doc="first restart delay after a crash")
    backoff_max: float = spec(300, ge=0, doc="restart delay doubles up to this")
    restart_window: float = spec(3600, gt=0, doc="sliding window for the restart budget")
    restart_max: int = spec(10, ge=1, doc="restarts within the window before FATAL")
    fatal_cooldown: float = spec(1800, gt=0, doc="FATAL agents are retried after this")
    start_grace: float = spec(20, ge=0, doc="a program dying this soon after start failed to start")
    start_timeout: float = spec(
        120, ge=0, doc=("an agent that shows no prompt, work, question or limit this long after its start is "
                        "restarted; 0 = off"))
    stop_timeout: float = spec(10, gt=0, doc="seconds between SIGTERM and SIGKILL when stopping an agent")
    reload_settle: float = spec(0.3, ge=0, doc="agents.toml must be still this long before a reload")
    delivery_retries: int = spec(3, ge=1, doc="submit-key presses before a message is stranded")
    max_running_tasks: int = spec(0, ge=0, doc="tasks running at once; the others wait as PENDING (0 = no cap)")
    task_retry_backoff: float = spec(5, gt=0, doc="seconds before a task's first retry; doubles, at most 300")
    journal_max_bytes: int = spec(5_000_000, ge=10_000, doc="events.jsonl rotates past this")


class BackendSpec(Table):
    """A [backend.NAME] table. Unset fields come from the preset of the same name."""

    bin: str | None = spec(None, doc="program (split like a shell word list; {python} = this Python)")
    flags: str | None = spec(None, doc="extra arguments, split like shell words")
    model_flag: str | None = spec(None, doc="flag that takes the model; empty = no model flag")
    resume_flag: str | None = spec(None, doc="flag that takes the resume id")
    prompt_flag: str | None = spec(None, doc="flag before the prompt argument; empty = positional")
    prompt_mode: PromptMode | None = spec(
        None, doc="arg: prompt is the last argument; type: typed once the TUI is up; none"
    )
    active_re: str | None = spec(None, check=check_regex, doc="the agent is busy (bottom of screen)")
    limit_re: str | None = spec(None, check=check_regex, doc="a usage-limit banner")
    fatal_re: str | None = spec(None, check=check_regex, doc="an error the agent cannot recover from")
    waiting_input_re: str | None = spec(None, check=check_regex, doc="a question or permission prompt for a human")
    auto_continue_re: str | None = spec(None, check=check_regex, doc="the agent resumes by itself after its limit")
    transient_re: str | None = spec(
        None, check=check_regex, doc="an error the program recovers from by itself (shown, never acted on)")
    self_retry_re: str | None = spec(
        None, check=check_regex, doc="the program waits out a limit by itself (held, never nudged or restarted)")
    limit_menu_re: str | None = spec(
        None, check=check_regex, doc="a menu the program opens on a usage limit (it owns the keyboard)")
    limit_menu_keys: list[str] | None = spec(None, doc="tmux keys that answer that menu so the input is free")
    turn_open_re: str | None = spec(
        None, check=check_regex, doc="a line that opens a turn (the user's prompt in the history)")
    turn_close_re: str | None = spec(
        None, check=check_regex, doc="a line that closes a turn; open and not closed = working")
    input_re: str | None = spec(
        None, check=check_regex, doc="the input box's row (the last one that matches); group 1 is what is typed there")
    input_idle_re: str | None = spec(
        None, check=check_regex, doc="what the input box shows with nothing typed (a placeholder, a menu's cursor)")
    ready_re: str | None = spec(
        None, check=check_regex,
        doc="the program's ready screen (its prompt or main view): a start is ready only once it shows")
    session_flag: str | None = spec(
        None, doc="flag that sets the session id agentsup chooses (claude --session-id)")
    session_store: Literal["", "codex"] | None = spec(
        None, doc="where the CLI keeps the session id it chose (codex): read back to resume on a heal")
    signals: Literal["", "claude"] | None = spec(
        None, doc="structured signals to read besides the screen: claude = hooks, status line, session file")
    stall_idle: float | None = spec(None, doc="seconds of unchanged, inactive screen = stalled")
    submit_key: str | None = spec(None, doc="tmux key name that submits typed text")
    supports_resume: bool | None = spec(None, doc="pass state/<name>.id with resume_flag")
    remote_control: bool | None = spec(None, doc="claude: pass --remote-control <session>")
    log_grace: float | None = spec(
        None, doc="a pane that printed within this many seconds counts as active (the seed's opencode log)")
    preamble: str | None = spec(None, doc="operator shell snippet run before the program")
    server: str | None = spec(None, doc="opencode: attach to this server instead of a TUI")
    connect_delay: float | None = spec(None, doc="seconds to wait before typing the prompt")
    process_names: list[str] | None = spec(None, doc="process names the program runs as")
    active_bottom_lines: int | None = spec(None, doc="lines from the bottom searched for active_re")
    env: dict[str, str] | None = spec(None, doc="environment for the program")



class WakeSpec(Table):
    """The `[agent.wake]` table."""

    interval: float = spec(3600, gt=0, doc="seconds between wakes of an idle agent")
    prompt_file: str | None = spec(None, doc="message file (relative to the config)")
    prompt: str | None = spec(None, doc="message text, when no prompt_file")


class WorktreeSpec(Table):
    """An agent's own git worktree of its `dir`, created on its first start and kept after."""

    branch: str = spec("agents/{name}", doc="the worktree's branch; {name} is the agent's name")
    base: str = spec("", doc="what a new branch starts from (empty: the repository's current HEAD)")
    path: str | None = spec(None, doc="where the worktree lives (relative to the config); default: "
                            "<state dir>/worktrees/<name>")


class HooksSpec(Table):
    """Commands (argv lists, no shell) run at an agent's lifecycle edges, with AGENTSUP_AGENT,
    AGENTSUP_DIR and (after_exit) AGENTSUP_EXIT_CODE in their environment."""

    after_create: list[str] = spec(factory=list, doc="once, after the agent's worktree (or its first start) exists")
    before_start: list[str] = spec(factory=list, doc="before every start; a failure fails the start (budgeted)")
    after_exit: list[str] = spec(factory=list, doc="after the agent's program exited")
    before_remove: list[str] = spec(factory=list, doc="before `down --remove-worktree` removes its worktree")
    timeout: float = spec(60, gt=0, doc="seconds a hook may run before it is ended and counted as failed")


class _Named(Table):
    """A table that becomes a tmux session: a name, and optionally an explicit session name."""

    name: str = spec(doc="unique name; the session is session_prefix + name", check=check_name)
    session: str | None = spec(None, doc="tmux session name override", check=check_session)


class AgentSpec(_Named):
    """One `[[agent]]` table, as written."""

    kind: Kind = spec("persistent", doc="loop | persistent | orchestrator | task")
    role: str | None = spec(None, doc="loop role; prompts/<role>.md is its standing prompt")
    backend: str = spec("claude", doc="a preset (claude, codex, opencode, gemini, sim) or [backend.X]")
    model: str = spec("", doc="model name; empty = the backend's default")
    enabled: bool = spec(True, doc="started by `up` and kept alive by the watchdog")
    watch: Watch = spec("none", doc="none | heal | heal+stall")
    resume: bool = spec(False, doc="resume from state/<name>.id when the backend supports it")
    dir: str = spec(".", doc="working directory (relative to the config)")
    prompt: str | None = spec(None, doc="kickoff prompt text")
    prompt_file: str | None = spec(None, doc="kickoff prompt file (relative to the config)")
    wake: WakeSpec | None = spec(None, doc="scheduled ping while idle")
    after: list[str] = spec(factory=list, doc="task: start after these tasks succeed")
    env: dict[str, str] = spec(factory=dict, doc="extra environment")
    args: list[str] = spec(factory=list, doc="extra program arguments after the backend's flags")
    timeout: float | None = spec(None, gt=0, doc="task: an attempt running longer is stopped (and retried or FAILED)")
    retries: int = spec(0, ge=0, doc="task: attempts after the first, with a doubling backoff, before FAILED")
    unattended: bool = spec(
        False, doc="prepare the CLI's first run (onboarding, trust for this agent's dir) instead of a dialog")
    worktree: bool | WorktreeSpec = spec(False, doc="run in an own git worktree of `dir` (true, or a table)")
    account: str = spec("", doc="agents of one account share its usage limits (default: one account per backend)")
    hooks: HooksSpec | None = spec(None, doc="lifecycle hooks")
    template: str | None = spec(None, doc="a [template.NAME] whose keys this agent takes unless it sets them")
    vars: dict[str, str] = spec(factory=dict, doc="values for {{key}} in prompt, prompt_file, args and dir")


def _all_optional(source: type[Table], name: str, doc: str, skip: tuple[str, ...]) -> type[Table]:
    """A table with `source`'s keys (but `skip`), none of them required: what a template may set."""
    annotations: dict[str, object] = {}
    namespace: dict[str, object] = {"__doc__": doc, "__annotations__": annotations, "__module__": __name__}
    for f in table_fields(source):
        if f.name not in skip:
            annotations[f.name] = hints(source)[f.name] | None
            namespace[f.name] = spec(None, doc=f.metadata["doc"], check=f.metadata["check"], ge=f.metadata["ge"],
                                     gt=f.metadata["gt"], le=f.metadata["le"])
    return type(name, (Table,), namespace)


if TYPE_CHECKING:  # built from AgentSpec at run time; to the type checker it is a table
    TemplateSpec = Table
else:
    TemplateSpec = _all_optional(
        AgentSpec, "TemplateSpec", "A [template.NAME]: agent keys that agents naming it take unless they set "
        "them; its vars are defaults for theirs.", ("name", "session", "template"))


class ServiceSpec(_Named):
    """One `[[service]]` table, as written."""

    command: str | list[str] = spec(doc="argv list, or a string split like shell words (no shell)")
    dir: str = spec(".", doc="working directory (relative to the config)")
    enabled: bool = spec(True, doc="started by `up`")
    env: dict[str, str] = spec(factory=dict, doc="extra environment")


class DefaultsSpec(Table):
    """The `[defaults]` table: values every agent inherits."""

    log_dir: str = spec(
        "~/.local/state/agentsup",
        doc="logs, journal; state/ lives inside. Unset: ~/.local/state/agentsup/<dir>-<hash>, "
        "one per config")
    session_prefix: str = spec("agentsup-", doc="prefix of every session name")
    dir: str | None = spec(None, doc="default working directory of agents and services")
    worktree: bool | WorktreeSpec | None = spec(None, doc="default worktree setting of agents")
    account: str | None = spec(None, doc="default account of agents")
    hooks: HooksSpec | None = spec(None, doc="default lifecycle hooks of agents")
    backend: str | None = spec(None, doc="default backend of agents")
    model: str | None = spec(None, doc="default model of agents")
    watch: Watch | None = spec(None, doc="default watch mode of agents")
    resume: bool | None = spec(None, doc="default resume flag of agents")
    enabled: bool | None = spec(None, doc="default enabled flag of agents")
    log_max_bytes: int = spec(10_000_000, ge=1024, doc="a session log rotates past this size")
    log_backups: int = spec(3, ge=0, doc="rotated session logs kept")


class PhaseSpec(Table):
    """One item of `[loop].phases`."""

    id: str = spec(doc="phase id, used in prompts and status")
    plan: str = spec(doc="plan file of the phase")
    status: str = spec(doc="status file that gets the done marker")
    models: dict[str, str] = spec(factory=dict, doc="per-role model override")


class HandoffSpec(Table):
    """The `[loop.handoff]` table."""

    repo: str = spec(doc="git clone whose remote both loop agents push to (relative to the config)")
    remote: str = spec("origin", doc="remote to fetch")
    branch: str = spec("main", doc="remote branch to watch")
    claim_pings: str = spec("adversary", doc="agent pinged on a claim(...) commit")
    review_pings: str = spec("builder", doc="agent pinged on a review(...) commit")
    inboxes: list[str] = spec(
        factory=list, doc="inbox files; the first pings claim_pings, the second review_pings"
    )
    fetch_timeout: float = spec(30, gt=0, doc="seconds before a git fetch is abandoned")


class OnCompleteSpec(Table):
    """The `[loop.on_complete]` table."""

    trigger_file: str = spec(".run-upgrade-on-complete", doc="in log_dir; run only if it exists",
                             check=check_file_name)
    run: str = spec("upgrader", doc="agent started when the sequence completes")



class LoopSpec(Table):
    """The `[loop]` table."""

    phases: list[PhaseSpec] = spec(factory=list, doc="the phase sequence")
    state_file: str = spec("phase-idx", doc="phase index file in the state directory", check=check_file_name)
    done_marker: str = spec("## DONE", doc="line prefix that marks a status file done")
    auto_advance: bool = spec(True, doc="advance when the status file is done")
    resume_phase: bool = spec(True, doc="false: `up` starts at phase 0 when no index is stored")
    docs_dir: str = spec("machine-docs", doc="status files are looked up here first")

    plan_dir: str = spec(".", doc="where phase plans live (relative to the config)")
    handoff: HandoffSpec | None = spec(None, doc="builder/adversary ping settings")
    on_complete: OnCompleteSpec | None = spec(None, doc="task to run after the last phase")


NotifyKind = Literal["fatal", "limited", "waiting-input", "task-failed", "phase-advance", "sequence-complete",
                     "watchdog-degraded", "server-errors"]
NOTIFY_KINDS: tuple[NotifyKind, ...] = ("fatal", "limited", "waiting-input", "task-failed", "phase-advance",
                                        "sequence-complete", "watchdog-degraded", "server-errors")


class NotifySpec(Table):
    """The `[notify]` table."""

    on: list[NotifyKind] = spec(factory=lambda: list(NOTIFY_KINDS), doc="events that notify")
    command: list[str] = spec(
        factory=list, doc="argv run per event (no shell); data in AGENTSUP_EVENT, AGENTSUP_AGENT, "
        "AGENTSUP_OLD_STATE, AGENTSUP_NEW_STATE, AGENTSUP_DETAIL")
    webhook: str | None = spec(None, doc="URL that gets each event as a JSON POST", check=check_http)
    retries: int = spec(3, ge=1, le=10, doc="attempts per event and channel")
    timeout: float = spec(10, gt=0, doc="seconds per attempt")


class ConfigFile(Table):
    """agents.toml: the agents agentsup keeps working, and how."""

    defaults: DefaultsSpec = spec(factory=DefaultsSpec, doc="merged into every [[agent]] and [[service]]")
    notify: NotifySpec = spec(factory=NotifySpec, doc="who hears about trouble, and how")
    watchdog: WatchdogSettings = spec(factory=WatchdogSettings, doc="the reconcile loop's timers and budgets")
    tmux: TmuxSettings = spec(factory=TmuxSettings, doc="the tmux server the agents live on")
    backend: dict[str, BackendSpec] = spec(factory=dict, doc="backend presets overridden, or new backends")
    template: dict[str, TemplateSpec] = spec(factory=dict, doc="reusable agent settings with {{vars}}")
    loop: LoopSpec = spec(factory=LoopSpec, doc="the builder/adversary build loop")
    agent: list[AgentSpec] = spec(factory=list, doc="the agents")
    service: list[ServiceSpec] = spec(factory=list, doc="plain long-running commands, each in its own session")
