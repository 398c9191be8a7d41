"""Loopback only: move this process into a network namespace of its own with nothing but `lo`.

Everything started afterwards (the tmux server, the agents, the mock API) inherits it, so a real
CLI cannot reach beyond 127.0.0.1 whatever it tries. Needs CAP_SYS_ADMIN (root), as CI has.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_entered = False


def enter_loopback_only() -> None:
    global _entered
    if _entered:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNET): {os.strerror(errno)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))
    _entered = True


def outside_reachable() -> bool:
    """Can this process open a TCP connection to a public address? (It must not.)"""
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=1).close()
    except OSError:
        return False
    return True
