"""Socket guard for sandboxed re-runs: Python code may use AF_UNIX and loopback, nothing else.

The sandbox copies this file as `sitecustomize.py` into a directory at the front of PYTHONPATH,
so every interpreter of a re-run (the re-run itself and each sweep worker it spawns) installs
the guard before any submitted code is imported. It is the fallback where no network namespace
can be made, and a second layer where one is: it stops Python code only, not C extensions or
other programs (see docs/leaderboard.md). Standalone on purpose: stdlib only, no project
imports, since it runs at interpreter start-up.
"""

from __future__ import annotations

import ipaddress
import socket

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(PermissionError):
    """Submitted code tried to reach beyond loopback from inside the re-run sandbox."""


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def is_allowed(address: object) -> bool:
    """AF_UNIX paths (str/bytes) and loopback (host, port, ...) tuples are allowed."""
    if isinstance(address, str | bytes):
        return True
    if isinstance(address, tuple) and address:
        return _is_local_host(address[0])
    return False


def _refuse(what: str, target: object) -> NetworkBlocked:
    return NetworkBlocked(
        f"the leaderboard re-run sandbox allows loopback only; blocked {what} to {target!r}"
    )


def install() -> None:
    """Patch socket methods and name resolution; idempotent."""
    if getattr(socket, "_lb_sandbox_guard", False):
        return
    cls = socket.socket
    real_connect, real_connect_ex, real_sendto = cls.connect, cls.connect_ex, cls.sendto
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def connect(self: socket.socket, address: object) -> None:
        if not is_allowed(address):
            raise _refuse("connect", address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not is_allowed(address):
            raise _refuse("connect", address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: object) -> int:
        address = args[-1] if args else None
        if not is_allowed(address):
            raise _refuse("sendto", address)
        return real_sendto(self, data, *args)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _is_local_host(host):
            raise _refuse("name lookup", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not _is_local_host(host):
            raise _refuse("name lookup", host)
        return real_gethostbyname(host)

    cls.connect, cls.connect_ex, cls.sendto = connect, connect_ex, sendto
    socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
    socket._lb_sandbox_guard = True  # type: ignore[attr-defined]


if __name__ == "sitecustomize":  # only as the sandbox's start-up hook, never on a plain import
    install()
