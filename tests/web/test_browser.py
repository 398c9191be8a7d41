"""`agentsup web` in a real browser over sim agents on real tmux: what a person watching sees,
and what an attacker tries (each refused)."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from ..browser import Browser, WebServer, web_server
from ..conftest import Project, sim_agent, wait_for

HEAL = 'watch = "heal"\n'
AGENTS = (sim_agent("a", extra=HEAL)
          + sim_agent("lim", "--limit", "claude", "--reset", "in 10 minutes", extra=HEAL + 'account = "lim-acct"')
          + sim_agent("q", "--question", extra=HEAL + 'account = "q-acct"')
          + sim_agent("f", "--fatal", "Invalid API key", extra=HEAL + 'account = "f-acct"'))


def up(project: Project) -> None:
    project.write("[watchdog]\nsignal_interval = 1\npoll_interval = 0.3\nrestart_max = 1\nbackoff_initial = 1\n\n"
                  + AGENTS)
    started = project.cli("up")
    assert started.returncode == 0, started.stderr


def row(page: Page, name: str) -> Locator:
    return page.locator(f'tr[data-agent="{name}"]')


def ask(server: WebServer, method: str, path: str, headers: dict[str, str], body: str = "") -> tuple[int, str]:
    """A request made by hand (any Host, any Origin), as a script or a rebinding attacker would."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def test_the_page_shows_every_agent_live_a_countdown_a_question_and_a_screen_without_reload(
        project: Project, browser_page: Browser) -> None:
    up(project)
    with web_server(["-c", str(project.config_path), "web", "--port", "0"], cwd=project.root) as server:
        page = browser_page.page
        page.goto(server.login)
        assert page.url == server.base + "/", "the token left the address bar"
        expect(row(page, "a")).to_be_visible()
        expect(row(page, "lim").locator(".state")).to_have_text("LIMITED", timeout=30_000)
        countdown = row(page, "lim").locator(".countdown")
        first = countdown.text_content()
        assert first and first.startswith("resets in")
        expect(countdown).not_to_have_text(first, timeout=5_000)  # it runs, second by second
        expect(row(page, "lim")).to_contain_text("agentsup resumes")
        expect(row(page, "q")).to_have_class(re.compile(r"\basks\b"), timeout=30_000)  # a question waits for a person
        expect(row(page, "q")).to_contain_text("asks:")
        expect(page.locator("#watchdog")).to_contain_text("watchdog ok")
        expect(row(page, "f").locator(".state")).to_have_text("FATAL", timeout=60_000)  # its reason, its last lines
        expect(row(page, "f").locator(".last-lines")).to_contain_text("FATAL: Invalid API key")
        expect(row(page, "f")).to_have_class(re.compile(r"\bfatal\b"))
        expect(page.locator("#events")).to_contain_text("up a")

        row(page, "a").click()
        expect(page.locator("#screen")).to_contain_text("agentsup sim")
        project.tmux("send-keys", "-t", "=t-a:", "-l", "typed from another terminal")
        expect(page.locator("#screen")).to_contain_text("typed from another terminal", timeout=10_000)
        assert page.locator("#detail-actions").is_hidden(), "read-only by default: no action buttons"
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1, "no reload happened"
        # agentsup's own session size is untouched: no client attached to watch it
        assert project.tmux("list-clients", "-F", "#{client_name}").stdout.strip() == ""
    urls = [url for url, _ in browser_page.requests]
    assert urls and all(url.startswith(server.base + "/") for url in urls), "no request left the server"
    assert [u for u in urls if server.token in u] == [server.login], "the token is in no URL but the login"


def test_every_attack_is_refused_and_agent_output_is_only_text(project: Project, browser_page: Browser) -> None:
    up(project)
    with web_server(["-c", str(project.config_path), "web", "--port", "0", "--actions"], cwd=project.root) as server:
        stranger = browser_page.fresh()  # no cookie
        assert stranger.goto(server.base + "/api/status").status == 401
        assert stranger.goto(server.base + "/").status == 401
        assert stranger.goto(server.base + "/login?token=wrong").status == 401
        assert stranger.context.cookies() == []
        # DNS rebinding: a foreign name that resolves to this machine, with the right token even
        rebound = browser_page.fresh().goto(f"http://evil.example:{server.port}/login?token={server.token}")
        assert rebound.status == 421
        assert ask(server, "GET", "/api/status", {"Host": "evil.example", "Authorization": f"Bearer {server.token}"}
                   )[0] == 421

        page = browser_page.page
        page.goto(server.login)
        expect(row(page, "a")).to_be_visible()
        cookie = next(c for c in page.context.cookies() if c["name"] == "agentsup_web")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # an action from another origin (a page on another port of this machine is the same site,
        # so the cookie goes with it): refused by its Origin, and nothing reaches the agent
        bearer = {"Authorization": f"Bearer {server.token}", "Host": f"127.0.0.1:{server.port}",
                  "Content-Type": "application/json"}
        assert ask(server, "POST", "/api/agents/a/ping", {**bearer, "Origin": "http://127.0.0.1:1"},
                   json.dumps({"message": "from evil"}))[0] == 403
        assert ask(server, "POST", "/api/agents/a/ping", {**bearer, "Origin": server.base},
                   json.dumps({"message": "no csrf"}))[0] == 403
        evil = browser_page.fresh()
        evil.goto(f"http://evil.example:{server.port}/nothing")  # refused, but the page's origin is now foreign
        evil.evaluate("""url => fetch(url, {method: 'POST', credentials: 'include', mode: 'no-cors',
                          body: JSON.stringify({message: 'cross-site'})}).catch(() => null)""",
                      f"http://127.0.0.1:{server.port}/api/agents/a/ping")
        # the page's own action, with its CSRF token, goes through the records' owner
        page.locator("tr[data-agent=a]").click()
        page.fill("#ping-text", "hello from the page")
        page.click("button[data-action=ping]")
        expect(page.locator("#action-result")).to_have_text("ping: done", timeout=20_000)
        wait_for(lambda: "hello from the page" in [r["text"] for r in project.records("a")], timeout=20)
        texts = [r["text"] for r in project.records("a")]
        assert "from evil" not in texts and "no csrf" not in texts and "cross-site" not in texts
        journal = [json.loads(line) for line in (project.log_dir / "events.jsonl").read_text().splitlines()]
        pinged = [e for e in journal if e["event"].startswith("ping-")]
        assert [e["by"] for e in pinged] == ["web"], pinged

        # agent output that looks like markup stays text and runs nothing
        attack = '<img src=/x-img onerror="document.title=1"><script>document.title=2</script>'
        project.tmux("send-keys", "-t", "=t-a:", "-l", attack)
        expect(page.locator("#screen")).to_contain_text(attack, timeout=10_000)
        assert page.title() == "agentsup"
        assert page.locator("#screen img, #screen script").count() == 0
    assert not [u for u, _ in browser_page.requests if "/x-img" in u], "the agent's <img> was never loaded"
    assert not [r for _, r in browser_page.requests if server.token in r], "no Referer carries the token"


def test_read_only_by_default_has_no_route_that_acts(project: Project) -> None:
    up(project)
    with web_server(["-c", str(project.config_path), "web", "--port", "0"], cwd=project.root) as server:
        own = {"Authorization": f"Bearer {server.token}", "Host": f"127.0.0.1:{server.port}", "Origin": server.base}
        assert ask(server, "POST", "/api/agents/a/ping", own, json.dumps({"message": "x"}))[0] == 405
        assert "x" not in [r["text"] for r in project.records("a")]
        status, body = ask(server, "GET", "/api/status", own)
        assert status == 200
        shown = json.loads(body)
        cli = project.cli_json("status")  # the same data `status --json` gives
        assert [(a["name"], a["kind"], a["backend"]) for a in shown["agents"]] == \
            [(a["name"], a["kind"], a["backend"]) for a in cli["agents"]]
        assert shown["version"] == cli["version"]


def test_a_new_token_logs_everyone_out_and_the_token_file_is_private(project: Project) -> None:
    up(project)
    argv = ["-c", str(project.config_path), "web", "--port", "0"]
    with web_server(argv, cwd=project.root) as first:
        old = first.token
    token_file = next(Path(project.root).rglob("web.token"))
    assert token_file.stat().st_mode & 0o777 == 0o600
    with web_server([*argv, "--new-token"], cwd=project.root) as second:
        assert second.token != old
        assert ask(second, "GET", "/api/status", {"Authorization": f"Bearer {old}"})[0] == 401
