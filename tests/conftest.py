"""Test-wide guards: no network beyond loopback, headless rendering, quiet threads."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    """A test tried to reach beyond loopback."""


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only use loopback; blocked connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only use loopback; blocked connect to {address!r}")
    return _real_connect_ex(self, address)


def _zmq_is_loopback(endpoint: str) -> bool:
    """ZeroMQ connects in C, past the socket guard: check its endpoints separately."""
    if not endpoint.startswith("tcp://"):
        return endpoint.startswith(("inproc://", "ipc://"))
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
    return _is_loopback((host, 0))


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    try:
        import zmq
    except ImportError:
        return
    real = zmq.Socket.connect

    def _zmq_connect(self, addr: str):
        if not _zmq_is_loopback(addr):
            raise NetworkBlocked(f"tests may only use loopback; blocked ZeroMQ connect to {addr}")
        return real(self, addr)

    monkeypatch.setattr(zmq.Socket, "connect", _zmq_connect)


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stricter: forbid creating any socket at all (replay must never open one)."""

    def _refuse(*args: object, **kwargs: object) -> None:
        raise NetworkBlocked("this test forbids opening any socket")

    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
