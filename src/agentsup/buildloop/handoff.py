"""Builder/adversary handoff (pure): which pings new remote commits and inbox files call for.

A commit whose subject starts with `claim` pings `claim_pings` (the adversary); one starting with
`review` pings `review_pings` (the builder); one ping per kind per batch of new commits. The first
inbox file pings `claim_pings`, the second `review_pings`, whenever its content on the remote
changes (and again after it was deleted and written anew). The state is persisted by the caller,
so a restarted watchdog neither loses nor repeats a ping.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentsup.config.schema import HandoffSpec

_CLAIM = re.compile(r"^claim", re.IGNORECASE)
_REVIEW = re.compile(r"^review", re.IGNORECASE)


@dataclass
class HandoffState:
    """What the handoff has already pinged about: the last remote head seen and each inbox file's content."""

    head: str = ""
    inboxes: dict[str, str] = field(default_factory=dict)  # file -> sha256 of its remote content

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "inboxes": dict(self.inboxes)}

    @classmethod
    def from_json(cls, data: Any) -> HandoffState:
        if not isinstance(data, dict):
            return cls()
        return cls(head=str(data.get("head", "")), inboxes=dict(data.get("inboxes", {})))


@dataclass(frozen=True)
class Ping:
    """One message the handoff owes an agent."""

    target: str
    text: str
    reason: str


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def commit_pings(spec: HandoffSpec, subjects: list[str]) -> list[Ping]:
    pings = []
    claims = [s for s in subjects if _CLAIM.match(s)]
    reviews = [s for s in subjects if _REVIEW.match(s)]
    if claims:
        pings.append(Ping(spec.claim_pings, "watchdog ping: the builder pushed a claim ("
                          + "; ".join(claims[:3]) + "). Pull and verify the claimed gate now.", "claim"))
    if reviews:
        pings.append(Ping(spec.review_pings, "watchdog ping: the adversary pushed a review ("
                          + "; ".join(reviews[:3]) + "). Pull, read the verdict and act on it.", "review"))
    return pings


def inbox_targets(spec: HandoffSpec) -> dict[str, str]:
    targets = [spec.claim_pings, spec.review_pings]
    return {name: targets[i] for i, name in enumerate(spec.inboxes[:2])}


def inbox_pings(spec: HandoffSpec, state: HandoffState, contents: Mapping[str, str | None]) -> list[Ping]:
    """Pings for inbox files whose content changed; updates `state.inboxes` in place."""
    pings = []
    for name, target in inbox_targets(spec).items():
        content = contents.get(name)
        new = digest(content) if content else ""
        if new and new != state.inboxes.get(name, ""):
            pings.append(Ping(target, f"watchdog ping: the other loop pushed {name}: pull, read it, act on it, "
                                      "then delete the file (commit and push) to mark it consumed.", "inbox"))
        state.inboxes[name] = new
    return pings
