"""The web view's gate and screen data, as pure functions: Host names, the token file, the
checks an action passes, and agent output turned into text runs (never markup)."""

from __future__ import annotations

import stat
from pathlib import Path

from agentsup.web.gate import Gate, cookie_of, host_name, load_token
from agentsup.web.screens import styled_lines


def test_a_host_header_is_read_without_its_port_for_names_v4_and_v6() -> None:
    assert host_name("127.0.0.1:8420") == "127.0.0.1"
    assert host_name("[::1]:8420") == "::1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("evil.example:80") == "evil.example"


def test_the_token_is_made_once_kept_private_and_replaced_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "state" / "web.token"
    first = load_token(path)
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token(path) == first
    assert load_token(path, new=True) != first


def test_only_the_token_authenticates_by_cookie_or_bearer() -> None:
    gate = Gate(token="s3cret", allowed_hosts=frozenset({"127.0.0.1"}))
    assert gate.authenticated({"cookie": "other=1; agentsup_web=s3cret"})
    assert gate.authenticated({"authorization": "Bearer s3cret"})
    assert not gate.authenticated({"cookie": "agentsup_web=s3cre"})
    assert not gate.authenticated({"authorization": "Bearer "})
    assert not gate.authenticated({})
    assert cookie_of("a=1;agentsup_web=x") == "x"


def test_an_action_needs_this_servers_origin_and_the_csrf_token() -> None:
    gate = Gate(token="t", allowed_hosts=frozenset({"127.0.0.1"}), actions=True)
    own = {"host": "127.0.0.1:9", "origin": "http://127.0.0.1:9", "x-agentsup-csrf": gate.csrf}
    assert gate.action_ok(own) is None
    assert "Origin" in str(gate.action_ok({**own, "origin": "http://evil.example"}))
    assert "Origin" in str(gate.action_ok({k: v for k, v in own.items() if k != "origin"}))
    assert "CSRF" in str(gate.action_ok({**own, "x-agentsup-csrf": "guess"}))


def test_agent_output_becomes_text_runs_with_colours_and_no_escapes() -> None:
    capture = "plain \x1b[1;31mred bold\x1b[0m <script>x</script>\n\x1b[38;2;1;2;3mrgb\x1b[0m\x1b]0;title\x07"
    lines = styled_lines(capture)
    assert lines[0] == [["plain ", {}], ["red bold", {"fg": "#800000", "b": 1}], [" <script>x</script>", {}]]
    assert lines[1][0] == ["rgb", {"fg": "#010203"}]
    assert "".join(run[0] for line in lines for run in line) == "plain red bold <script>x</script>rgb"
