"""A mock of the model APIs the real agent CLIs talk to, on 127.0.0.1 only.

Anthropic Messages (`POST /v1/messages`, SSE streaming or JSON) for Claude Code, OpenAI Responses
(`POST /v1/responses`, SSE) for Codex, Gemini's generateContent (`/v1beta/models/M:...`, SSE) for
Gemini CLI. A test switches `mode` between normal, slow, limited (a 429
with a reset time), overloaded, auth error and tool-use, and reads `requests` to see exactly what
the agent sent. Anything else an agent asks for is answered 404 and recorded too.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Mode(StrEnum):
    NORMAL = "normal"
    SLOW = "slow"  # streams its answer over `slow_seconds`
    LIMITED = "limited"  # 429: subscriber usage limit with `reset_epoch`
    OVERLOADED = "overloaded"  # 529 / 503
    AUTH_ERROR = "auth-error"  # 401
    TOOL_USE = "tool-use"  # asks to run a shell command (a permission prompt without bypass)
    DISCONNECT = "disconnect"  # starts streaming, then drops the connection mid-answer
    SERVER_ERROR = "server-error"  # 500 Internal server error
    CAPACITY = "capacity"  # gemini: 429 MODEL_CAPACITY_EXHAUSTED, retry after `reset_epoch`
    THROTTLED = "throttled"  # anthropic: a 429 that is no usage limit (no unified-ratelimit headers): a burst


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float

    def user_texts(self) -> list[str]:
        """The user turns' text in this request (both APIs), newest last."""
        body = self.body if isinstance(self.body, dict) else {}
        texts: list[str] = []
        turns = body.get("input") if isinstance(body.get("input"), list) else []
        for content in body.get("contents", []) if isinstance(body.get("contents"), list) else []:
            if isinstance(content, dict) and content.get("role") == "user":
                texts += [p["text"] for p in content.get("parts", []) if isinstance(p, dict)
                          and isinstance(p.get("text"), str)]
        for message in body.get("messages", []) + turns:
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") in
                          ("text", "input_text") and isinstance(c.get("text"), str)]
        return texts


@dataclass
class MockAPI:
    mode: Mode = Mode.NORMAL
    reply: str = "Done. Waiting for the next instruction."
    reset_epoch: int = 0  # LIMITED: when the limit resets
    claim: str = "five_hour"  # LIMITED: five_hour | seven_day | seven_day_opus
    slow_seconds: float = 5.0
    utilization: float = 0.42  # the five-hour window's share used, sent with every answer
    # token usage each answer reports (the usage tests count them back from the CLIs' own records)
    tokens: dict[str, int] = field(default_factory=lambda: {"input": 12, "output": 7, "cache_read": 0,
                                                            "cache_write": 0, "reasoning": 0})
    requests: list[Request] = field(default_factory=list)
    answers: int = 0
    # Attempts a CLI makes that no setting of its own turns off (each named where it is set). The
    # network namespace still blocks them: nothing reaches beyond loopback either way.
    known_attempts: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> MockAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.handle(self, None)

            def do_HEAD(self) -> None:
                api.handle(self, None)

            def do_CONNECT(self) -> None:  # a proxy tunnel: the agent tried to leave loopback
                api.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                api.handle(self, body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # an agent that hangs up mid-stream (killed, interrupted) is not an error here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="mockapi", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ── what was asked ─────────────────────────────────────────────────────────────────────

    def model_requests(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] in ("/v1/messages", "/v1/responses")
                    or ":streamGenerateContent" in r.path or ":generateContent" in r.path]

    def outside(self) -> list[str]:
        """Where the agent tried to go beyond this server (through the proxy variables it was given)."""
        with self.lock:
            return [f"{r.method} {r.path}" for r in self.requests
                    if r.method == "CONNECT" or not r.path.startswith("/")]

    def received(self) -> list[str]:
        """Every user text the agent sent to the model, oldest first, without repeats."""
        seen: list[str] = []
        for request in self.model_requests():
            for text in request.user_texts():
                if text not in seen:
                    seen.append(text)
        return seen

    # ── answering ──────────────────────────────────────────────────────────────────────────

    def handle(self, h: BaseHTTPRequestHandler, body: Any) -> None:
        with self.lock:
            self.requests.append(Request(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body,
                                         time.time()))
        path = h.path.split("?")[0]
        if h.command == "CONNECT" or not h.path.startswith("/"):
            self.send_json(h, 403, {"error": {"type": "forbidden", "message": "mock: loopback only"}})
        elif path == "/v1/messages" and h.command == "POST":
            self.anthropic(h, body if isinstance(body, dict) else {})
        elif path == "/v1/messages/count_tokens":
            self.send_json(h, 200, {"input_tokens": 100})
        elif path == "/v1/responses" and h.command == "POST":
            self.openai(h, body if isinstance(body, dict) else {})
        elif path.startswith("/v1beta/models/") and h.command == "POST":
            self.gemini(h, path, body if isinstance(body, dict) else {})
        elif path == "/v1/models":
            self.send_json(h, 200, {"object": "list", "data": [{"id": "gpt-5", "object": "model"}]})
        else:
            self.send_json(h, 404, {"error": {"type": "not_found_error", "message": f"mock: no {path}"}})

    def send_json(self, h: BaseHTTPRequestHandler, status: int, data: Any,
                  headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(raw)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(raw)

    def start_sse(self, h: BaseHTTPRequestHandler, headers: dict[str, str] | None = None) -> None:
        h.send_response(200)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("content-type", "text/event-stream")
        h.send_header("cache-control", "no-cache")
        h.send_header("connection", "close")
        h.end_headers()
        h.close_connection = True

    @staticmethod
    def event(h: BaseHTTPRequestHandler, name: str, data: Any) -> None:
        h.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        h.wfile.flush()

    def chunks(self) -> list[str]:
        words = self.reply.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    def pause(self, count: int) -> None:
        if self.mode is Mode.SLOW:
            time.sleep(self.slow_seconds / max(1, count))

    def openai_tool_call(self, h: BaseHTTPRequestHandler, model: str) -> None:
        """Codex is asked to run a command outside its sandbox: with on-request approval it asks
        the person first (its permission question)."""
        call = {"id": "fc_mock", "type": "function_call", "status": "completed", "call_id": "call_mock",
                "name": "exec_command", "arguments": json.dumps({
                    "cmd": "touch agentsup-marker.txt", "sandbox_permissions": "require_escalated",
                    "justification": "Create the marker file the task asks for?"})}
        response = {"id": "resp_tool", "object": "response", "created_at": int(time.time()), "model": model,
                    "status": "in_progress", "output": []}
        self.event(h, "response.created", {"type": "response.created", "response": response})
        self.event(h, "response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                                     "item": {**call, "status": "in_progress"}})
        self.event(h, "response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                                    "item": call})
        self.event(h, "response.completed", {"type": "response.completed", "response": {
            **response, "status": "completed", "output": [call],
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}})

    # Anthropic Messages ----------------------------------------------------------------------

    def current_mode(self) -> Mode:
        if self.mode is Mode.LIMITED and self.reset_epoch and time.time() >= self.reset_epoch:
            return Mode.NORMAL  # the limit has reset, as a real one does
        return self.mode

    def anthropic(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.current_mode()
        if mode is Mode.LIMITED:
            self.send_json(h, 429, {"type": "error", "error": {"type": "rate_limit_error",
                                                               "message": "usage limit reached (mock)"}},
                           {"anthropic-ratelimit-unified-status": "rejected",
                            "anthropic-ratelimit-unified-reset": str(self.reset_epoch),
                            "anthropic-ratelimit-unified-representative-claim": self.claim,
                            "retry-after": str(max(1, self.reset_epoch - int(time.time())))})
            return
        if mode is Mode.THROTTLED:
            self.send_json(h, 429, {"type": "error", "error": {"type": "rate_limit_error",
                                                               "message": "Number of requests exceeded (mock)"}},
                           {"retry-after": "1"})
            return
        if mode is Mode.OVERLOADED:
            self.send_json(h, 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            return
        if mode is Mode.SERVER_ERROR:
            self.send_json(h, 500, {"type": "error",
                                    "error": {"type": "api_error", "message": "Internal server error"}})
            return
        if mode is Mode.AUTH_ERROR:
            self.send_json(h, 401, {"type": "error", "error": {"type": "authentication_error",
                                                               "message": "invalid x-api-key"}})
            return
        model = str(body.get("model", "claude-mock"))
        # What a subscriber's answers carry: the five-hour window's use and reset (the status line
        # shows them as rate_limits.five_hour).
        window = {"anthropic-ratelimit-unified-status": "allowed",
                  "anthropic-ratelimit-unified-5h-status": "allowed",
                  "anthropic-ratelimit-unified-5h-reset": str(self.reset_epoch or int(time.time()) + 3600),
                  "anthropic-ratelimit-unified-5h-utilization": str(self.utilization),
                  "anthropic-ratelimit-unified-7d-status": "allowed",
                  "anthropic-ratelimit-unified-7d-reset": str(int(time.time()) + 5 * 86400),
                  "anthropic-ratelimit-unified-7d-utilization": "0.1",
                  "anthropic-ratelimit-unified-representative-claim": "five_hour"}
        tool = mode is Mode.TOOL_USE and not _has_tool_result(body)
        t = self.tokens
        with self.lock:
            self.answers += 1
            message_id = f"msg_mock_{self.answers:04d}"  # unique, as the real API's are
        window["request-id"] = f"req_mock_{self.answers:04d}"
        usage = {"input_tokens": t["input"], "output_tokens": 1, "cache_read_input_tokens": t["cache_read"],
                 "cache_creation_input_tokens": t["cache_write"]}
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": self.reply}]
            self.send_json(h, 200, {"id": message_id, "type": "message", "role": "assistant", "model": model,
                                    "content": content, "stop_reason": "end_turn", "stop_sequence": None,
                                    "usage": usage}, window)
            return
        self.start_sse(h, window)
        self.event(h, "message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})
        if tool:
            names = {t.get("name") for t in body.get("tools", []) if isinstance(t, dict)}
            name = "bash" if "bash" in names else "Bash"  # opencode's shell tool, or claude's
            self.event(h, "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_mock1", "name": name, "input": {}}})
            args = json.dumps({"command": "touch agentsup-mock-tool-ran", "description": "Create a marker file"})
            self.event(h, "content_block_delta", {"type": "content_block_delta", "index": 0,
                                                  "delta": {"type": "input_json_delta", "partial_json": args}})
            self.event(h, "content_block_stop", {"type": "content_block_stop", "index": 0})
            stop = "tool_use"
        else:
            self.event(h, "content_block_start", {"type": "content_block_start", "index": 0,
                                                  "content_block": {"type": "text", "text": ""}})
            parts = self.chunks()
            for part in parts:
                self.pause(len(parts))
                self.event(h, "content_block_delta", {"type": "content_block_delta", "index": 0,
                                                      "delta": {"type": "text_delta", "text": part}})
            self.event(h, "content_block_stop", {"type": "content_block_stop", "index": 0})
            stop = "end_turn"
        self.event(h, "message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                        "usage": {"output_tokens": t["output"]}})
        self.event(h, "message_stop", {"type": "message_stop"})

    # Gemini generateContent ------------------------------------------------------------------

    def gemini(self, h: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> None:
        mode = self.current_mode()
        if path.endswith(":countTokens"):
            self.send_json(h, 200, {"totalTokens": 100})
            return
        side = ":generateContent" in path  # routing and next-speaker checks on a small model
        if side and mode in (Mode.LIMITED, Mode.CAPACITY):
            # A quota is per model: the small router model keeps answering. (Refused too, 0.61.0's
            # router retried it ~40 times a second and never showed the limit.)
            mode = Mode.NORMAL
        if mode is Mode.LIMITED:
            model = path.rsplit("/", 1)[-1].split(":")[0]
            self.send_json(h, 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": (
                f"Quota exceeded for quota metric 'Generate Content API requests per day' and limit for "
                f"model {model} (mock)"), "details": [{
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]}]}})
            return
        if mode is Mode.CAPACITY:
            delay = max(1, self.reset_epoch - int(time.time()))
            self.send_json(h, 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": (
                "You have exhausted your capacity on this model. (mock)"), "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED",
                     "domain": "cloudcode-pa.googleapis.com"},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}]}})
            return
        if mode is Mode.OVERLOADED:
            self.send_json(h, 503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "overloaded (mock)"}})
            return
        if mode is Mode.AUTH_ERROR:
            self.send_json(h, 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                              "message": "API key not valid. Please pass a valid API key. (mock)"}})
            return
        if ":generateContent" in path:  # a side request (routing, next speaker): a short JSON answer
            self.send_json(h, 200, _gemini_chunk('{"next_speaker": "user", "reasoning": "done"}', last=True,
                                                 tokens=self.tokens))
            return
        self.start_sse(h)
        if mode is Mode.TOOL_USE and not _has_function_response(body):  # without --yolo gemini asks first
            call = {"functionCall": {"name": "run_shell_command", "args": {
                "command": "touch agentsup-mock-tool-ran", "description": "Create a marker file"}}}
            chunk = _gemini_chunk("", last=True, tokens=self.tokens)
            chunk["candidates"][0]["content"]["parts"] = [call]
            h.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            h.wfile.flush()
            return
        parts = self.chunks()
        for i, part in enumerate(parts):
            self.pause(len(parts))
            h.wfile.write(f"data: {json.dumps(_gemini_chunk(part, last=i == len(parts) - 1, tokens=self.tokens))}"
                          "\r\n\r\n".encode())
            h.wfile.flush()

    # OpenAI Responses ------------------------------------------------------------------------

    def openai(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.current_mode()
        if mode is Mode.LIMITED:
            resets_in = max(1, self.reset_epoch - int(time.time()))
            self.send_json(h, 429, {"error": {"type": "usage_limit_reached", "message": "usage limit (mock)",
                                              "plan_type": "plus", "resets_at": self.reset_epoch,
                                              "resets_in_seconds": resets_in}})
            return
        if mode is Mode.OVERLOADED:
            self.send_json(h, 503, {"error": {"type": "server_error", "message": "overloaded (mock)"}})
            return
        if mode is Mode.AUTH_ERROR:
            self.send_json(h, 401, {"error": {"type": "invalid_request_error", "message": "bad key (mock)"}})
            return
        model = str(body.get("model", "gpt-mock"))
        self.start_sse(h)
        if mode is Mode.TOOL_USE and not _has_function_output(body):
            self.openai_tool_call(h, model)
            return
        if mode is Mode.DISCONNECT:
            self.event(h, "response.created", {"type": "response.created", "response": {"id": "resp_cut"}})
            return  # the connection closes without response.completed
        response = {"id": "resp_mock", "object": "response", "created_at": int(time.time()), "model": model,
                    "status": "in_progress", "output": []}
        self.event(h, "response.created", {"type": "response.created", "response": response})
        item = {"id": "msg_mock", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        self.event(h, "response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                                     "item": item})
        parts = self.chunks()
        for part in parts:
            self.pause(len(parts))
            self.event(h, "response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_mock",
                                                         "output_index": 0, "content_index": 0, "delta": part})
        done = {**item, "status": "completed", "content": [{"type": "output_text", "text": self.reply,
                                                             "annotations": []}]}
        self.event(h, "response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                                    "item": done})
        t = self.tokens
        usage = {"input_tokens": t["input"] + t["cache_read"],
                 "input_tokens_details": {"cached_tokens": t["cache_read"]},
                 "output_tokens": t["output"], "output_tokens_details": {"reasoning_tokens": t["reasoning"]},
                 "total_tokens": t["input"] + t["cache_read"] + t["output"]}
        self.event(h, "response.completed", {"type": "response.completed", "response": {
            **response, "status": "completed", "output": [done], "usage": usage}})


def _has_function_output(body: dict[str, Any]) -> bool:
    turns = body.get("input")
    return isinstance(turns, list) and any(isinstance(t, dict) and t.get("type") == "function_call_output"
                                           for t in turns)


def _gemini_chunk(text: str, *, last: bool, tokens: dict[str, int]) -> dict[str, Any]:
    chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]}
    if last:
        chunk["candidates"][0]["finishReason"] = "STOP"
        chunk["usageMetadata"] = {"promptTokenCount": tokens["input"] + tokens["cache_read"],
                                  "cachedContentTokenCount": tokens["cache_read"],
                                  "candidatesTokenCount": tokens["output"],
                                  "totalTokenCount": tokens["input"] + tokens["cache_read"] + tokens["output"]}
    return chunk


def _has_function_response(body: dict[str, Any]) -> bool:
    contents = body.get("contents")
    return isinstance(contents, list) and any(
        isinstance(c, dict) and any(isinstance(p, dict) and "functionResponse" in p for p in c.get("parts", []))
        for c in contents)


def _has_tool_result(body: dict[str, Any]) -> bool:
    for message in body.get("messages", []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content):
            return True
    return False
