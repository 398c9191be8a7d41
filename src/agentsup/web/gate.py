"""What every request passes before it reaches a route: the Host allowlist (DNS rebinding), the
token (a cookie set by /login, or `Authorization: Bearer`), for actions the Origin and the CSRF
token, and the headers that keep a page from being framed, sniffed or leaking its address."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsup.store.state import atomic_write_text, read_text

COOKIE = "agentsup_web"
CSRF_HEADER = "x-agentsup-csrf"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_token(path: Path, *, new: bool = False) -> str:
    """The login token kept in `path` (0600), made on first use or when `new`."""
    current = None if new else read_text(path)
    if current and current.strip():
        return current.strip()
    token = secrets.token_urlsafe(32)
    atomic_write_text(path, token + "\n")
    return token


def host_name(header: str) -> str:
    """The name in a Host header, without its port ('[::1]:8420' -> '::1')."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def cookie_of(header: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE:
            return value
    return None


@dataclass
class Gate:
    """The checks, in order; `allowed_hosts` holds the names a Host header may carry."""

    token: str
    allowed_hosts: frozenset[str]
    actions: bool = False
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def host_ok(self, headers: dict[str, str]) -> bool:
        return host_name(headers.get("host", "")) in self.allowed_hosts

    def authenticated(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        given = bearer[7:].strip() if bearer.lower().startswith("bearer ") else cookie_of(headers.get("cookie", ""))
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode())

    def action_ok(self, headers: dict[str, str]) -> str | None:
        """Why an action is refused (None: allowed): it must come from this server's own page."""
        origin = headers.get("origin")
        if origin is None or origin != f"http://{headers.get('host', '')}":
            return "refused: the request's Origin is not this server"
        if not secrets.compare_digest(headers.get(CSRF_HEADER, "").encode(), self.csrf.encode()):
            return "refused: missing or wrong CSRF token"
        return None


def with_headers(app: ASGIApp) -> ASGIApp:
    """Every response carries the security headers."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)
        await app(scope, receive, sending)
    return wrapped


def headers_of(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def refuse(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


def guarded(app: ASGIApp, gate: Gate, *, open_paths: frozenset[str] = frozenset({"/login"})) -> ASGIApp:
    """Host first (before anything else is looked at), then the token, then for a POST its Origin
    and CSRF token."""
    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = headers_of(scope)
        if not gate.host_ok(headers):
            await refuse(send, 421, "refused: this Host is not one agentsup web answers to (--allow-host NAME)")
            return
        if scope["path"] not in open_paths and not gate.authenticated(headers):
            await refuse(send, 401, "not logged in: open the login URL that `agentsup web` printed")
            return
        if scope["method"] not in ("GET", "HEAD") and scope["path"] not in open_paths:
            if not gate.actions:
                await refuse(send, 405, "read-only: agentsup web acts only when started with --actions")
                return
            why = gate.action_ok(headers)
            if why is not None:
                await refuse(send, 403, why)
                return
        await app(scope, receive, send)
    return with_headers(checked)
