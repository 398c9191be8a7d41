"""A simulated agent TUI: the `sim` backend's program, the demo's agents and the tests' workhorse.

It draws a transcript, a status line and a `> ` input line, reads keys in raw mode (bracketed
paste included), and can be told by flags or typed `/commands` to work, idle, exit, hang, hit a
usage limit, sleep until a time, ask a question or fail fatally. With `--record FILE` every prompt
and submitted message is appended as a JSON line, so tests can count deliveries exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import termios
import time
import tty
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

LIMIT_BANNERS = {
    "claude": "You've hit your session limit · resets {reset}",
    "claude-weekly": "You've hit your weekly limit · resets {reset}",
    "codex": "■ You've hit your usage limit. Upgrade to Pro or try again at {reset}.",
    "opencode": "Usage limit reached. It will reset in {reset}.",
}
SPINNER = "✻✶✳✢·"


@dataclass
class Sim:
    """The simulated agent's state: its model, what it records, its status line, work and limit."""

    model: str = ""
    record: Path | None = None
    reply_work: float = 2.0
    transcript: list[str] = field(default_factory=list)
    status: str = ""
    work_until: float = 0.0
    limit_banner: str = ""
    limit_until: float | None = None
    question: bool = False
    deaf: bool = False
    hung: bool = False
    exit_at: float | None = None
    exit_code: int = 0
    text: str = ""

    # ── events ─────────────────────────────────────────────────────────────────────────────

    def log(self, kind: str, text: str) -> None:
        if self.record is not None:
            with self.record.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"t": time.time(), "kind": kind, "text": text}) + "\n")

    def say(self, line: str) -> None:
        self.transcript.extend(line.split("\n"))

    def start_work(self, seconds: float, what: str = "Working") -> None:
        self.work_until = time.time() + seconds
        self.status = what

    def submit(self, text: str) -> None:
        self.log("message", text)
        self.say("› " + " ".join(text.split()))
        if self.question:
            self.question = False
            self.say("answered: " + text.strip()[:40])
            self.start_work(self.reply_work)
            return
        if self.limit_banner:
            if self.limit_until is not None and time.time() >= self.limit_until:
                self.limit_banner = ""
                self.say("resuming after the usage limit")
                self.start_work(self.reply_work)
            else:
                self.say(self.limit_banner)
            return
        if text.startswith("/"):
            self.command(text[1:].split())
            return
        self.start_work(self.reply_work)

    def command(self, words: list[str]) -> None:
        cmd, args = (words[0], words[1:]) if words else ("", [])
        if cmd == "work":
            self.start_work(float(args[0]) if args else 5)
        elif cmd == "idle":
            self.work_until = 0
        elif cmd == "exit":
            self.exit_at, self.exit_code = time.time(), int(args[0]) if args else 0
        elif cmd == "hang":
            self.hung = True
        elif cmd == "limit":
            self.show_limit(args[0] if args else "claude", " ".join(args[1:]) or "3pm", None)
        elif cmd == "waiting":
            self.say(f"Sleeping on purpose. WAITING-UNTIL: {args[0] if args else '2099-01-01T00:00:00Z'}")
        elif cmd == "question":
            self.ask()
        elif cmd == "fatal":
            self.say("FATAL: " + (" ".join(args) or "unrecoverable error"))
        elif cmd == "deaf":
            self.deaf = True
        elif cmd == "spam":
            self.spam(int(args[0]) if args else 100)
        else:
            self.say(f"unknown command /{cmd}")

    def show_limit(self, style: str, reset: str, until: float | None) -> None:
        self.work_until = 0
        self.limit_banner = LIMIT_BANNERS.get(style, LIMIT_BANNERS["claude"]).format(reset=reset)
        self.limit_until = until
        self.say(self.limit_banner)

    def ask(self) -> None:
        self.work_until = 0
        self.question = True
        self.say("Bash command: rm -rf build/\nDo you want to proceed?\n❯ 1. Yes\n  2. No")

    def spam(self, lines: int) -> None:
        # Straight to the terminal so the pane log sees every line, not just the last screen.
        for i in range(lines):
            sys.stdout.write(f"spam line {i:06d} " + "x" * 60 + "\r\n")
        sys.stdout.flush()
        self.say(f"printed {lines} lines")

    # ── screen ─────────────────────────────────────────────────────────────────────────────

    def busy(self) -> bool:
        return time.time() < self.work_until

    def render(self) -> str:
        cols, rows = _size()
        if self.busy():
            left = int(self.work_until - time.time()) + 1
            spin = SPINNER[int(time.time() * 4) % len(SPINNER)]
            status = f"{spin} {self.status}… ({left}s · esc to interrupt)"
        else:
            status = ""
        shown = " ".join(self.text.split("\n")) if self.text else ""
        header = f"agentsup sim · model={self.model or 'default'} · pid {os.getpid()}"
        body_rows = max(1, rows - 4 - (len(shown) + 2) // max(cols, 1))
        body = self.transcript[-body_rows:]
        return "\r\n".join([header, *body, "", status, "> " + shown])


def _size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
        return size.columns, size.lines
    except OSError:
        return 80, 24


class KeyReader:
    """Turns raw bytes into ('text', s) / ('submit', '') / ('escape', '') / ('backspace', '')."""

    def __init__(self) -> None:
        self.pending = b""
        self.in_paste = False

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        self.pending += data
        out: list[tuple[str, str]] = []
        while self.pending:
            buf = self.pending
            if buf.startswith(b"\x1b[200~"):
                self.in_paste, self.pending = True, buf[6:]
            elif buf.startswith(b"\x1b[201~"):
                self.in_paste, self.pending = False, buf[6:]
            elif self.in_paste:
                end = buf.find(b"\x1b[201~")
                chunk = buf if end < 0 else buf[:end]
                out.append(("text", chunk.decode("utf-8", "replace").replace("\r", "\n")))
                self.pending = b"" if end < 0 else buf[end:]
            elif buf[:1] == b"\x1b":
                if len(buf) >= 2 and buf[1:2] in (b"[", b"O"):
                    i = 2
                    while i < len(buf) and not (0x40 <= buf[i] <= 0x7E):
                        i += 1
                    self.pending = buf[i + 1:]
                else:
                    out.append(("escape", ""))
                    self.pending = buf[1:]
            elif buf[:1] in (b"\r", b"\n"):
                out.append(("submit", ""))
                self.pending = buf[1:]
            elif buf[:1] in (b"\x7f", b"\x08"):
                out.append(("backspace", ""))
                self.pending = buf[1:]
            elif buf[:1] == b"\x03":
                out.append(("interrupt", ""))
                self.pending = buf[1:]
            else:
                n = 1
                while n < len(buf) and buf[n:n + 1] not in (b"\x1b", b"\r", b"\n", b"\x7f", b"\x08", b"\x03"):
                    n += 1
                out.append(("text", buf[:n].decode("utf-8", "replace")))
                self.pending = buf[n:]
        return out


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentsup-sim", description="simulated agent TUI")
    p.add_argument("prompt", nargs="?", default="", help="kickoff prompt (recorded, never executed)")
    p.add_argument("--model", default="")
    p.add_argument("--resume", default="", help="resume id (shown)")
    p.add_argument("--record", type=Path, help="append received prompts/messages here as JSON lines")
    p.add_argument("--work", type=float, default=0, help="work this many seconds at start")
    p.add_argument("--reply-work", type=float, default=2.0, help="work this long after each message")
    p.add_argument("--exit-after", type=float, help="exit after this many seconds")
    p.add_argument("--exit-code", type=int, default=0)
    p.add_argument("--hang-after", type=float, help="freeze (no reading, no drawing) after N seconds")
    p.add_argument("--stuck-loading", action="store_true",
                   help="print a banner and freeze before the prompt ever shows (a start that hangs)")
    p.add_argument("--limit", choices=sorted(LIMIT_BANNERS), help="show this limit banner at start")
    p.add_argument("--reset", default="3pm", help="reset text shown in the banner")
    p.add_argument("--limit-until", help="ISO time after which a nudge resumes the agent")
    p.add_argument("--auto-continue", help="show claude's auto-continue line with this time text")
    p.add_argument("--waiting-until", help="print WAITING-UNTIL: <this> and idle")
    p.add_argument("--question", action="store_true", help="show a permission question")
    p.add_argument("--fatal", help="print FATAL: <this>")
    p.add_argument("--deaf", action="store_true", help="ignore the submit key (text stays in the input)")
    p.add_argument("--spam", type=int, default=0, help="print this many lines at start")
    return p


def _name_process() -> None:
    # /proc/<pid>/comm = agentsup-sim, so the watchdog can tell the sim from other programs.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, b"agentsup-sim", 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _name_process()
    sim = Sim(model=args.model, record=args.record, reply_work=args.reply_work)
    sim.say(f"resumed session {args.resume}" if args.resume else "new session")
    if args.prompt:
        sim.log("prompt", args.prompt)
        sim.say("kickoff: " + " ".join(args.prompt.split())[:200])
    started = time.time()
    if args.spam:
        sim.spam(args.spam)
    if args.work:
        sim.start_work(args.work)
    if args.limit:
        until = _parse_time(args.limit_until) if args.limit_until else None
        sim.show_limit(args.limit, args.reset, until)
    if args.auto_continue:
        sim.say(f"Usage limit reached · set to continue automatically {args.auto_continue}")
    if args.waiting_until:
        sim.say(f"Sleeping on purpose. WAITING-UNTIL: {args.waiting_until}")
    if args.question:
        sim.ask()
    if args.fatal:
        sim.say("FATAL: " + args.fatal)
    sim.deaf = args.deaf
    if args.exit_after is not None:
        sim.exit_at, sim.exit_code = started + args.exit_after, args.exit_code

    if args.stuck_loading:
        sys.stdout.write(f"agentsup sim · pid {os.getpid()}\r\nconnecting to the model…\r\n")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    fd = sys.stdin.fileno()
    interactive = os.isatty(fd)
    saved = termios.tcgetattr(fd) if interactive else None
    if interactive:
        tty.setraw(fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.stdout.write("\x1b[?2004h")
    reader = KeyReader()
    last = ""
    try:
        while True:
            now = time.time()
            if not sim.hung:
                screen = sim.render()
                if screen != last:
                    sys.stdout.write("\x1b[H\x1b[2J" + screen)
                    sys.stdout.flush()
                    last = screen
            if sim.exit_at is not None and now >= sim.exit_at:
                return sim.exit_code
            if args.hang_after is not None and now - started >= args.hang_after:
                sim.hung = True
            if sim.hung:
                time.sleep(3600)
                continue
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                return 0
            for kind, value in reader.feed(data):
                if kind == "text":
                    sim.text += value
                elif kind == "backspace":
                    sim.text = sim.text[:-1]
                elif kind == "escape":
                    sim.work_until = 0
                elif kind == "interrupt":
                    return 130
                elif kind == "submit" and not sim.deaf and sim.text.strip():
                    text, sim.text = sim.text, ""
                    sim.submit(text)
    finally:
        sys.stdout.write("\x1b[?2004l\r\n")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
