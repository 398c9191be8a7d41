"""Per-session log writer fed by `tmux pipe-pane`: strips terminal escapes, caps the file size and
rotates (`x.log` → `x.log.1` → ...). Usage: python -m agentsup.logpipe PATH MAX_BYTES BACKUPS"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import BinaryIO

# CSI, OSC (terminated by BEL or ST), other two-byte escapes, and stray control bytes but \t and \n.
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b.|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"
)


def clean(chunk: bytes) -> bytes:
    chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return _ESCAPES.sub(b"", chunk)


class RotatingLog:
    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = path.open("ab")
        self._size = self._fh.tell()

    def write(self, data: bytes) -> None:
        while data:
            room = self.max_bytes - self._size
            if room <= 0:
                self.rotate()
                room = self.max_bytes
            part, data = data[:room], data[room:]
            self._fh.write(part)
            self._fh.flush()
            self._size += len(part)

    def rotate(self) -> None:
        self._fh.close()
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            self._fh = self.path.open("wb")
        else:
            self._fh = self.path.open("wb")  # no backups: start over
        self._size = 0

    def close(self) -> None:
        self._fh.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m agentsup.logpipe PATH MAX_BYTES BACKUPS", file=sys.stderr)
        return 2
    log = RotatingLog(Path(args[0]), max(1024, int(args[1])), max(0, int(args[2])))
    stdin = sys.stdin.buffer
    try:
        while True:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                break
            log.write(clean(chunk))
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
