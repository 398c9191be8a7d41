"""`agentsup usage`: each agent's tokens, turns and cost from its CLI's own records, and for claude
subscribers the five-hour window with a forecast of when it runs out."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentsup.agents import usage
from agentsup.agents.sessions import codex_home, rollouts
from agentsup.agents.signals import home_of, rate_windows, status_line
from agentsup.config.load import Agent
from agentsup.supervisor.processes.start_stop import Runtime


@dataclass(frozen=True)
class AgentUsage:
    """One agent's tokens, turns and cost."""

    agent: str
    backend: str
    turns: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None  # at list prices; None when a model's price is unknown
    reported_cost_usd: float | None = None  # claude's own figure for its current run (status line)
    window_used_pct: float | None = None  # claude subscribers: the five-hour window
    window_resets_at: str | None = None
    window_runs_out_at: str | None = None  # at the rate of the window so far; None: not before it resets
    windows: tuple[dict[str, Any], ...] = ()  # every window claude's status line gives: 5h, 7d, 7d opus, ...
    records: tuple[str, ...] = ()  # the files read
    note: str = ""  # "no records yet", or why none can be read


@dataclass(frozen=True)
class UsageReport:
    """What `agentsup usage` reports."""

    since: str | None
    agents: list[AgentUsage]

    def to_json(self) -> dict[str, Any]:
        """The report as `usage --json` prints it."""
        return {"since": self.since, "agents": [{**asdict(a), "records": list(a.records), "windows": list(a.windows)}
                                                for a in self.agents]}


def claude_transcripts(rt: Runtime, agent: Agent) -> list[Path]:
    """The agent's claude transcripts, one per session id it has had (newest last)."""
    ids = []
    history = rt.state.session_history_file(agent.name)
    for source in (history, rt.state.session_id_file(agent.name)):
        try:
            ids += [line.strip() for line in source.read_text().splitlines() if line.strip()]
        except OSError:
            continue
    projects = home_of(dict(agent.env)) / ".claude" / "projects"
    found: list[Path] = []
    for sid in dict.fromkeys(ids):
        found += sorted(projects.glob(f"*/{sid}.jsonl"))
    return found


def codex_sessions(agent: Agent) -> list[Path]:
    """The agent's codex rollout files, oldest first."""
    return sorted(path for path, _ in rollouts(codex_home(dict(agent.env)), agent.home_dir))


def agent_usage(rt: Runtime, agent: Agent, since: float | None, now: float) -> AgentUsage:
    """One agent's row; every configured agent has one, with a note where nothing is counted."""
    backend = rt.cfg.backend_of(agent)
    total, by_model = usage.Tokens(), dict[str, usage.Tokens]()
    status: dict[str, Any] = {}
    if backend.signals == "claude":
        files = claude_transcripts(rt, agent)
        reader = usage.claude_transcript
        status = status_line(rt.state.status_line_file(agent.name))
    elif backend.session_store == "codex":
        files, reader = codex_sessions(agent), usage.codex_session
    else:  # a CLI whose records agentsup cannot read: nothing is guessed from the screen
        return AgentUsage(agent.name, agent.backend, 0, 0, 0, 0, 0, 0, None,
                          note=f"{agent.backend} keeps no usage records agentsup reads (claude and codex do)")
    for path in files:
        tokens, models = reader(usage.read_lines(path), since)
        total.add(tokens)
        for model, part in models.items():
            by_model.setdefault(model, usage.Tokens()).add(part)
    row: dict[str, Any] = {}
    windows = usage.window_rows(rate_windows(status.get("rate_limits")), now)
    five = next((w for w in windows if w["window"] == "5h"), None)
    if five is not None:
        row = {"window_used_pct": five["used_pct"], "window_resets_at": five["resets_at"],
               "window_runs_out_at": five["runs_out_at"]}
    reported = (status.get("cost") or {}).get("total_cost_usd")
    return AgentUsage(
        agent=agent.name, backend=agent.backend, turns=total.turns, input_tokens=total.input,
        output_tokens=total.output, cache_read_tokens=total.cache_read, cache_write_tokens=total.cache_write,
        reasoning_tokens=total.reasoning, cost_usd=usage.cost(by_model),
        reported_cost_usd=float(reported) if isinstance(reported, int | float) else None,
        records=tuple(str(p) for p in files), note="" if files else "no records yet", windows=tuple(windows), **row)


def collect(rt: Runtime, *, since_seconds: float | None = None, now: float | None = None) -> UsageReport:
    """Tokens, turns and cost per agent from the programs' own transcripts, since `since_seconds` ago."""
    now = time.time() if now is None else now
    since = now - since_seconds if since_seconds is not None else None
    rows = [agent_usage(rt, agent, since, now) for agent in rt.cfg.agents.values()]
    return UsageReport(usage.iso(since), rows)


def parse_duration(text: str) -> float:
    """'90s', '30m', '2h', '1d', '1h30m' → seconds; ValueError otherwise."""
    import re

    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not text.strip() or parts is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h, 1d or 1h30m")
    days, hours, minutes, seconds = (int(p) if p else 0 for p in parts.groups())
    return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)
