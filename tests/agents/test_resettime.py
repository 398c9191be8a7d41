"""Reset-time parsing, table-driven, with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agentsup.agents.resettime import parse_iso, parse_reset

DUBLIN = ZoneInfo("Europe/Dublin")
CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-06-10 12:00 in Dublin (IST, UTC+1)
NOW = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "default_tz", "expected"),
    [
        # Claude Code
        ("You've hit your session limit · resets 3pm (Europe/Dublin)", UTC,
         datetime(2026, 6, 10, 15, 0, tzinfo=DUBLIN)),
        ("You've hit your weekly limit · resets Jun 16, 10pm (America/Chicago)", UTC,
         datetime(2026, 6, 16, 22, 0, tzinfo=CHICAGO)),
        ("Claude usage limit reached. Your limit will reset at 5pm (Europe/London).", UTC,
         datetime(2026, 6, 10, 17, 0, tzinfo=ZoneInfo("Europe/London"))),
        ("You've hit your session limit · resets 3:30am (Europe/Dublin)", UTC,
         datetime(2026, 6, 11, 3, 30, tzinfo=DUBLIN)),  # 3:30am has passed today: tomorrow
        ("Usage limit reached · set to continue automatically at 4pm (Europe/Dublin)", UTC,
         datetime(2026, 6, 10, 16, 0, tzinfo=DUBLIN)),
        ("Continuing automatically at 4:15pm · Esc to cancel", DUBLIN,
         datetime(2026, 6, 10, 16, 15, tzinfo=DUBLIN)),
        # Codex CLI: local time, later dates with an ordinal suffix, relative durations
        ("■ You've hit your usage limit. Upgrade to Pro or try again at 6:44 PM.", CHICAGO,
         datetime(2026, 6, 10, 18, 44, tzinfo=CHICAGO)),
        ("You've hit your usage limit. Upgrade to Pro or try again at Jun 16th, 2026 6:44 PM.", CHICAGO,
         datetime(2026, 6, 16, 18, 44, tzinfo=CHICAGO)),
        ("You've hit your usage limit. Try again in 4 days 6 hours 37 minutes.", UTC,
         NOW + timedelta(days=4, hours=6, minutes=37)),
        # Gemini CLI: zone abbreviation
        ("Usage limit reached for gemini-2.5-pro.\nAccess resets at 6:44 PM PDT.", UTC,
         datetime(2026, 6, 11, 1, 44, tzinfo=UTC)),
        # opencode
        ("Usage limit reached. It will reset in 3 hours 5 minutes.", UTC, NOW + timedelta(hours=3, minutes=5)),
        ("usage limit · resets in 2h 13m", UTC, NOW + timedelta(hours=2, minutes=13)),
        # 24-hour clock and explicit UTC
        ("limit reached, resets at 14:30 (UTC)", DUBLIN, datetime(2026, 6, 10, 14, 30, tzinfo=UTC)),
        ("limit reached, resets 09:05 UTC", DUBLIN, datetime(2026, 6, 11, 9, 5, tzinfo=UTC)),
        # ISO date
        ("resets 2026-06-12 08:00 (Europe/Dublin)", UTC, datetime(2026, 6, 12, 8, 0, tzinfo=DUBLIN)),
    ],
)
def test_formats(text: str, default_tz: timezone, expected: datetime) -> None:
    assert parse_reset(text, NOW, default_tz) == expected


def test_midnight_rollover() -> None:
    late = datetime(2026, 6, 10, 23, 30, tzinfo=DUBLIN)
    assert parse_reset("resets 1am (Europe/Dublin)", late, UTC) == datetime(2026, 6, 11, 1, 0, tzinfo=DUBLIN)
    assert parse_reset("resets 11:45pm (Europe/Dublin)", late, UTC) == datetime(2026, 6, 10, 23, 45, tzinfo=DUBLIN)


def test_dst_spring_forward_keeps_wall_time() -> None:
    # 2026-03-08 is the US spring-forward day: 01:59 EST is followed by 03:00 EDT.
    before = datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)  # EST, UTC-5
    when = parse_reset("resets 9am (America/New_York)", before, UTC)
    assert when == datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK)
    assert when is not None and when.utcoffset() == timedelta(hours=-4)  # EDT after the switch
    assert when.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=9)  # 10 wall hours, one skipped


def test_dst_fall_back() -> None:
    # 2026-11-01: 01:59 EDT is followed by 01:00 EST.
    before = datetime(2026, 10, 31, 22, 0, tzinfo=NEW_YORK)
    when = parse_reset("resets 6am (America/New_York)", before, UTC)
    assert when is not None and when.utcoffset() == timedelta(hours=-5)
    assert when.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=9)  # 8 wall hours, one repeated


def test_date_without_year_in_the_past_means_next_year() -> None:
    december = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
    assert parse_reset("resets Jan 2, 10am (UTC)", december, UTC) == datetime(2027, 1, 2, 10, 0, tzinfo=UTC)


def test_wrapped_banner_is_rejoined() -> None:
    text = "You've hit your weekly limit · resets Jun\n16, 10pm\n(America/Chicago)"
    assert parse_reset(text, NOW, UTC) == datetime(2026, 6, 16, 22, 0, tzinfo=CHICAGO)


def test_last_banner_wins() -> None:
    text = "resets 1pm (Europe/Dublin)\n...\nresets 5pm (Europe/Dublin)"
    assert parse_reset(text, NOW, UTC) == datetime(2026, 6, 10, 17, 0, tzinfo=DUBLIN)


@pytest.mark.parametrize(
    "text",
    [
        "You've hit your session limit",  # no time at all
        "resets 3",  # a bare number
        "resets 13pm (Europe/Dublin)",
        "resets 3pm (Not/AZone)",
        "We retry on 429 and rate limits; the cache resets often",
        "",
    ],
)
def test_no_time(text: str) -> None:
    assert parse_reset(text, NOW, UTC) is None


def test_parse_iso() -> None:
    assert parse_iso("2026-06-10T15:00:00Z", DUBLIN) == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    assert parse_iso("2026-06-10T15:00", DUBLIN) == datetime(2026, 6, 10, 15, 0, tzinfo=DUBLIN)
    assert parse_iso("soon", DUBLIN) is None


def test_a_banner_minute_that_just_began_is_this_minute_not_tomorrow() -> None:
    from datetime import UTC, datetime

    from agentsup.agents.resettime import parse_reset

    now = datetime(2026, 11, 22, 4, 5, 40, tzinfo=UTC)  # claude shows only the minute of the reset
    assert parse_reset("resets 4:05am (UTC)", now, UTC) == datetime(2026, 11, 22, 4, 5, tzinfo=UTC)
    assert parse_reset("resets 4:02am (UTC)", now, UTC) == datetime(2026, 11, 23, 4, 2, tzinfo=UTC)
