"""The web view's routes: the page and its assets, the login that trades the token for a cookie,
`/api/status` (the data `status --json` gives), one server-sent event stream per page, an agent's
log, and, only with `--actions`, the operations the CLI has."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from agentsup.errors import AgentsupError
from agentsup.web.gate import COOKIE, Gate, guarded
from agentsup.web.hub import Event, Hub, pumped
from agentsup.web.screens import styled_lines
from agentsup.web.sources import ACTIONS, FleetSource, LocalSource

STATIC = Path(__file__).parent / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
KEEPALIVE = 15.0  # seconds between comments on a quiet stream (proxies drop silent connections)
RETRY_MS = 1000  # the browser's own reconnect delay; the page backs off on top of it


@dataclass
class Live:
    """What the page's stream is made of: the feed (status and journal) and the watched screens."""

    source: LocalSource | FleetSource
    feed: Hub
    screens: Hub
    stopping: bool = False  # the server is shutting down: every stream ends

    @classmethod
    def over(cls, source: LocalSource | FleetSource, *, screen_every: float = 0.1,
             feed_every: float | None = None) -> Live:
        """The feed is read every half second (every 2 s across a fleet: each read is an ssh
        round to every host), a watched screen every `screen_every`."""
        from anyio import to_thread

        async def feed_step(_: str) -> list[Event]:
            events: list[Event] = [("status", await to_thread.run_sync(source.status))]
            if isinstance(source, LocalSource) and (new := await to_thread.run_sync(source.journal.new)):
                events.append(("events", new))
            return events

        drawn: dict[str, tuple[str | None, dict[str, Any]]] = {}  # the last capture of each pane, converted

        async def screen_step(name: str) -> list[Event]:
            if not isinstance(source, LocalSource):
                return []
            text = await to_thread.run_sync(source.screen, name)
            if name not in drawn or drawn[name][0] != text:  # converted only when it changed
                drawn[name] = (text, {"agent": name, "gone": text is None,
                                      "lines": styled_lines(text) if text is not None else []})
            return [("screen", drawn[name][1])]

        every = feed_every if feed_every is not None else 2.0 if isinstance(source, FleetSource) else 0.5
        return cls(source, Hub(feed_step, interval=every), Hub(screen_step, interval=screen_every))


def sse(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream_of(live: Live, request: Request, agent: str | None) -> AsyncIterator[bytes]:
    import asyncio
    import time

    yield f"retry: {RETRY_MS}\n\n".encode()
    streams = [live.feed.watch("")] + ([live.screens.watch(agent)] if agent else [])
    quiet_since = time.monotonic()
    async with pumped(*streams) as events:
        while not live.stopping and not await request.is_disconnected():
            try:
                name, data = await asyncio.wait_for(events.get(), timeout=0.5)
            except TimeoutError:
                if time.monotonic() - quiet_since > KEEPALIVE:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"
                continue
            quiet_since = time.monotonic()
            yield sse(name, data)


def make_app(source: LocalSource | FleetSource, gate: Gate, *, live: Live | None = None) -> Any:
    """The ASGI application, every route behind `gate`."""
    from anyio import to_thread
    from starlette.responses import StreamingResponse

    live = live or Live.over(source)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def login(request: Request) -> Response:
        given = request.query_params.get("token", "")
        import secrets

        if not secrets.compare_digest(given.encode(), gate.token.encode()):
            return PlainTextResponse("wrong token: open the login URL that `agentsup web` printed", status_code=401)
        response = RedirectResponse("/", status_code=303)  # the token leaves the address bar
        response.set_cookie(COOKIE, gate.token, httponly=True, samesite="strict", path="/")
        return response

    async def session(request: Request) -> Response:
        return JSONResponse({"actions": list(ACTIONS) if gate.actions else [], "csrf": gate.csrf,
                             "fleet": isinstance(source, FleetSource)})

    async def status(request: Request) -> Response:
        return JSONResponse(await to_thread.run_sync(source.status))

    async def events(request: Request) -> Response:
        if not isinstance(source, LocalSource):
            return JSONResponse([])
        return JSONResponse(await to_thread.run_sync(source.journal.recent))

    async def stats(request: Request) -> Response:
        """What the view costs: producer runs, viewers, tmux calls (for the benchmark)."""
        calls = source.tmux_calls() if isinstance(source, LocalSource) else None
        return JSONResponse({"feed_steps": live.feed.steps, "screen_steps": live.screens.steps,
                             "viewers": live.feed.viewers(), "tmux_calls": calls})

    async def stream(request: Request) -> Response:
        agent = request.query_params.get("agent") or None
        return StreamingResponse(stream_of(live, request, agent), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    async def log(request: Request) -> Response:
        if not isinstance(source, LocalSource):
            return JSONResponse({"lines": []})
        name = request.path_params["name"]
        try:
            return JSONResponse({"lines": await to_thread.run_sync(source.log, name)})
        except AgentsupError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def act(request: Request) -> Response:
        if not isinstance(source, LocalSource):
            return JSONResponse({"error": "actions on fleet hosts: use `agentsup fleet`"}, status_code=400)
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        name, action = request.path_params["name"], request.path_params["action"]
        try:
            result = await to_thread.run_sync(source.act, action, name, message)
        except AgentsupError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"result": result})

    routes = [Route("/", page), Route("/static/{name}", asset), Route("/login", login),
              Route("/api/session", session), Route("/api/status", status), Route("/api/events", events),
              Route("/api/stats", stats), Route("/api/stream", stream), Route("/api/agents/{name}/log", log)]
    if gate.actions:  # without --actions no route that acts exists at all
        routes.append(Route("/api/agents/{name}/{action}", act, methods=["POST"]))
    app = Starlette(routes=routes)
    app.state.live = live
    return guarded(app, gate)
