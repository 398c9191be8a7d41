"""Token usage and cost per agent, read from the CLIs' own records, never from the screen: claude's
transcript lines (`message.usage` of each assistant message, once per message id) and its
status-line input (its own cost figure and the five-hour window); codex's session files
(`token_count` events, cumulative). Cost comes at list prices per model family; claude's own
figure for its current run is shown beside it. The five-hour forecast extrapolates the window's
use so far: at the rate it was used since the window began, when does it reach 100 %?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentsup.agents.signals import RateWindow
from agentsup.store.logs import json_lines

WINDOW = 5 * 3600.0
# USD per million tokens: input, output, cache read, cache write. List prices of 2026-11 by model
# family; a model none of these match has no cost (an unknown price is never guessed).
PRICES: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("opus-4-5", (5.0, 25.0, 0.50, 6.25)),
    ("opus", (15.0, 75.0, 1.50, 18.75)),
    ("sonnet", (3.0, 15.0, 0.30, 3.75)),
    ("haiku", (1.0, 5.0, 0.10, 1.25)),
    ("gpt-5-mini", (0.25, 2.0, 0.025, 0.0)),
    ("gpt-5-nano", (0.05, 0.40, 0.005, 0.0)),
    ("gpt-5", (1.25, 10.0, 0.125, 0.0)),
)


@dataclass
class Tokens:
    """Token counts of one agent's turns, as its CLI recorded them."""

    input: int = 0  # not read from a cache
    output: int = 0  # reasoning included
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    turns: int = 0
    models: dict[str, int] = field(default_factory=dict)  # model -> output tokens, to price by

    def add(self, other: Tokens) -> None:
        for name in ("input", "output", "cache_read", "cache_write", "reasoning", "turns"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for model, count in other.models.items():
            self.models[model] = self.models.get(model, 0) + count


def _when(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def claude_transcript(lines: Iterable[str], since: float | None = None) -> tuple[Tokens, dict[str, Tokens]]:
    """Totals of one claude transcript, and per model. A message streamed in several lines carries
    the same id and usage: counted once. A turn is a prompt a person (or agentsup) typed."""
    total, seen = Tokens(), set()
    by_model: dict[str, Tokens] = {}
    for entry in json_lines(lines):
        at = _when(entry.get("timestamp"))
        if since is not None and (at is None or at < since):
            continue
        message = _table(entry.get("message"))
        if entry.get("type") == "user" and _typed_prompt(message):
            total.turns += 1
        usage = message.get("usage") if entry.get("type") == "assistant" else None
        if not isinstance(usage, dict):
            continue
        key = (message.get("id"), entry.get("requestId"))
        if key in seen:
            continue
        seen.add(key)
        model = str(message.get("model") or "")
        part = Tokens(input=int(usage.get("input_tokens") or 0), output=int(usage.get("output_tokens") or 0),
                      cache_read=int(usage.get("cache_read_input_tokens") or 0),
                      cache_write=int(usage.get("cache_creation_input_tokens") or 0))
        total.add(part)
        by_model.setdefault(model, Tokens()).add(part)
    return total, by_model


def _typed_prompt(message: dict[str, Any]) -> bool:
    content = message.get("content")
    if isinstance(content, str):
        return True
    return isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "text" for c in content)


def codex_session(lines: Iterable[str], since: float | None = None) -> tuple[Tokens, dict[str, Tokens]]:
    """Totals of one codex session file: each `token_count` event's `last_token_usage` (codex's
    input counts its cached part too; here input is the uncached rest)."""
    total, model = Tokens(), "codex"
    for entry in json_lines(lines):
        payload = _table(entry.get("payload"))
        if entry.get("type") == "turn_context" and isinstance(payload.get("model"), str):
            model = payload["model"]
        if entry.get("type") != "event_msg" or payload.get("type") != "token_count":
            continue
        at = _when(entry.get("timestamp"))
        info = _table(payload.get("info"))
        last = info.get("last_token_usage") if isinstance(info.get("last_token_usage"), dict) else None
        if last is None or (since is not None and (at is None or at < since)):
            continue
        cached = int(last.get("cached_input_tokens") or 0)
        total.add(Tokens(input=int(last.get("input_tokens") or 0) - cached, output=int(last.get("output_tokens") or 0),
                         cache_read=cached, cache_write=int(last.get("cache_write_input_tokens") or 0),
                         reasoning=int(last.get("reasoning_output_tokens") or 0), turns=1))
    return total, {model: total}


def price(model: str) -> tuple[float, float, float, float] | None:
    name = model.lower()
    return next((p for family, p in PRICES if family in name), None)


def cost(by_model: dict[str, Tokens]) -> float | None:
    """USD at list prices; None when a model with tokens has no known price."""
    total = 0.0
    for model, tokens in by_model.items():
        rates = price(model)
        if rates is None:
            if tokens.input or tokens.output:
                return None
            continue
        total += (tokens.input * rates[0] + tokens.output * rates[1] + tokens.cache_read * rates[2]
                  + tokens.cache_write * rates[3]) / 1e6
    return round(total, 6)


@dataclass(frozen=True)
class Forecast:
    """Where claude's five-hour window stands and when it would run out at the current pace."""

    used_pct: float
    resets_at: float  # epoch
    exhausted_at: float | None  # epoch at the window's rate so far; None: not before the reset


def forecast(used_pct: float, resets_at: float, now: float, window: float = WINDOW) -> Forecast:
    """When the window runs out at the rate it was used since it began."""
    elapsed = now - (resets_at - window)
    if used_pct >= 100:
        return Forecast(used_pct, resets_at, now)
    if used_pct <= 0 or elapsed <= 0:
        return Forecast(used_pct, resets_at, None)
    at = now + (100.0 - used_pct) * elapsed / used_pct
    return Forecast(used_pct, resets_at, at if at < resets_at else None)


WEEK = 7 * 86400.0


def window_rows(windows: list[RateWindow], now: float) -> list[dict[str, Any]]:
    """claude's rate-limit windows as `usage` and `status` show them: its name, how much is used,
    when it resets, and when it runs out at the rate it was used so far (None: not before then)."""
    rows = []
    for w in windows:
        cast = forecast(w.used_pct, w.resets_at, now, WINDOW if w.name == "five_hour" else WEEK)
        rows.append({"window": w.label, "used_pct": cast.used_pct, "resets_at": iso(cast.resets_at),
                     "runs_out_at": iso(cast.exhausted_at)})
    return rows


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch is not None else None
