"""Per-session log writer fed by `tmux pipe-pane`: strips terminal escapes, caps the file size and
rotates (`x.log` → `x.log.1` → ...). Usage: python -m agentsup.tmux.logpipe PATH MAX_BYTES BACKUPS

It outlives whatever happens to its file: a log deleted or moved away (logrotate) is noticed at the
next output, which goes to a new file at the path; SIGHUP reopens it too; and a write the disk
refuses drops that output instead of ending the writer (tmux would stop logging the pane for good).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from pathlib import Path

from agentsup.store.state import open_private, rotate

# CSI, OSC (terminated by BEL or ST), other two-byte escapes, and stray control bytes but \t and \n.
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b.|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"
)


def clean(chunk: bytes) -> bytes:
    """`chunk` without escape sequences and carriage returns."""
    chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return _ESCAPES.sub(b"", chunk)


class RotatingLog:
    """A log file that rotates at its size cap."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._fd: int | None = None
        self._size = 0
        self.reopen_requested = False
        self.open()

    def open(self) -> None:
        """Open the log file (0600), making its folder when it is gone."""
        self.close()
        try:
            self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
        except OSError:
            self._fd = None  # tried again with the next output

    def _still_ours(self) -> bool:
        """Does the path still name the file we write? Not after a delete or a rotation by others."""
        if self._fd is None:
            return False
        try:
            mine, there = os.fstat(self._fd), os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def write(self, data: bytes) -> None:
        """Append `data`, reopening the file when it was deleted or moved, rotating it past its size."""
        # Checked before every write (two stat calls): output that comes right after a delete must
        # not vanish into the unlinked file.
        if self.reopen_requested or not self._still_ours():
            self.reopen_requested = False
            self.open()
        while data and self._fd is not None:
            room = self.max_bytes - self._size
            if room <= 0:
                self.rotate()
                room = self.max_bytes
                if self._fd is None:
                    return
            part, data = data[:room], data[room:]
            try:
                os.write(self._fd, part)
            except OSError:
                return  # disk full or gone: this output is lost, the writer lives on
            self._size += len(part)

    def rotate(self) -> None:
        """Rotate the log (keeping its backups) and open a new one."""
        self.close()
        with contextlib.suppress(OSError):
            rotate(self.path, self.backups)  # no backups: start over
        self.open()

    def close(self) -> None:
        """Close the log file."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def main(argv: list[str] | None = None) -> int:
    """`python -m agentsup.tmux.logpipe LOG MAX_BYTES BACKUPS`: pane output on stdin to a capped log."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m agentsup.tmux.logpipe PATH MAX_BYTES BACKUPS", file=sys.stderr)
        return 2
    log = RotatingLog(Path(args[0]), max(1024, int(args[1])), max(0, int(args[2])))

    def reopen(_signum: int, _frame: object) -> None:
        log.reopen_requested = True

    signal.signal(signal.SIGHUP, reopen)
    stdin = sys.stdin.buffer
    try:
        while True:
            try:
                chunk = os.read(stdin.fileno(), 65536)
            except InterruptedError:
                continue
            if not chunk:
                break
            log.write(clean(chunk))
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
