"""Agents' screens for viewers: a pane captured with its colours becomes data (lines of text runs,
each with a few style keys) that the page draws as text nodes, never as markup."""

from __future__ import annotations

import re
from typing import Any

# Every escape but colours (CSI ... m): OSC titles, cursor moves, other two-byte escapes, stray controls.
_NOT_SGR = re.compile(r"\x1b\[[0-?]*[ -/]*[@-ln-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]"
                      r"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")
Run = list[Any]  # [text, {"fg": "#rrggbb", "bg": ..., "b": 1, "i": 1, "u": 1, "d": 1, "r": 1}]


def _hex(color: Any, *, foreground: bool) -> str | None:
    if color is None or color.is_default:
        return None
    triplet = color.get_truecolor(foreground=foreground)
    return f"#{triplet.red:02x}{triplet.green:02x}{triplet.blue:02x}"


def _style_keys(style: Any) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if (fg := _hex(style.color, foreground=True)) is not None:
        keys["fg"] = fg
    if (bg := _hex(style.bgcolor, foreground=False)) is not None:
        keys["bg"] = bg
    for attr, key in (("bold", "b"), ("italic", "i"), ("underline", "u"), ("dim", "d"), ("reverse", "r")):
        if getattr(style, attr):
            keys[key] = 1
    return keys


def styled_lines(ansi: str) -> list[list[Run]]:
    """Each line of a capture as text runs with their styles (rich decodes the SGR escapes; any
    other control sequence is dropped, so what reaches the page is plain text)."""
    from rich.style import Style
    from rich.text import Text

    lines: list[list[Run]] = []
    for raw in ansi.rstrip("\n").split("\n"):
        text = Text.from_ansi(_NOT_SGR.sub("", raw))
        plain = text.plain
        runs: list[Run] = []
        cursor = 0
        for span in sorted(text.spans, key=lambda s: s.start):
            if span.start > cursor:
                runs.append([plain[cursor:span.start], {}])
            style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
            if span.end > max(cursor, span.start):
                runs.append([plain[max(cursor, span.start):span.end], _style_keys(style)])
            cursor = max(cursor, span.end)
        if cursor < len(plain):
            runs.append([plain[cursor:], {}])
        lines.append(runs)
    return lines
