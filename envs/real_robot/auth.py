"""Who may drive the robot: ZeroMQ CURVE keys for the request port, kept in files.

An unknown client on the network must not be able to release the e-stop, reset the robot or
take over an episode. The request port therefore speaks CURVE (encrypted, and each client proves
it holds a secret key whose public half the server lists). Keys live in files made by
`python -m envs.real_robot.server keys DIR`, never on a command line (visible in `ps`) or in a
run's config.json (copied into results). Secret files are created 0600 and refused when group-
or world-readable, as ssh does.

    DIR/server.key                 server public key: every client needs it
    DIR/server.key_secret          server keypair: stays on the robot's computer
    DIR/authorized/<name>.key      public keys of the clients the server accepts
    DIR/clients/<name>.key_secret  one client's keypair: move it to that client's machine

The e-stop port stays plaintext on purpose: a stop is always safe, so anyone who can reach the
robot may stop it (see docs/robot.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.auth import load_certificate

SERVER_NAME = "server"
AUTHORIZED = "authorized"
CLIENTS = "clients"
DEFAULT_CLIENT = "benchmark"


class KeyFileError(ValueError):
    """A key file is missing, unreadable or too open; the message says what to run."""


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    #: folder of `<name>.key` public keys the server accepts
    authorized: Path


@dataclass(frozen=True)
class ClientKeys:
    public: bytes
    secret: bytes
    server_public: bytes


def require_curve() -> None:
    if not zmq.has("curve"):
        raise KeyFileError(
            f"this libzmq ({zmq.zmq_version()}) was built without CURVE; install the pyzmq wheel "
            "from requirements.lock (it bundles a libzmq with CURVE)"
        )


def is_loopback(host: str) -> bool:
    """True only for addresses no other machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # an interface name, a hostname or '*': assume it is reachable


def _write(path: Path, text: str, secret: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600 if secret else 0o644)
    except FileExistsError as err:
        raise KeyFileError(
            f"{path} exists; keys are never overwritten (delete it to replace it)"
        ) from err
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _cert(public: bytes, secret: bytes | None) -> str:
    lines = ["# CURVE certificate for the vlm-feedback-bench robot link", "curve"]
    lines.append(f'    public-key = "{public.decode()}"')
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def create_keys(folder: str | Path, clients: list[str]) -> list[Path]:
    """Make the server keypair (once) and one keypair per client; return the files written."""
    require_curve()
    root = Path(folder)
    for sub in (root, root / AUTHORIZED, root / CLIENTS):
        sub.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    if not (root / f"{SERVER_NAME}.key_secret").exists():
        public, secret = zmq.curve_keypair()
        _write(root / f"{SERVER_NAME}.key", _cert(public, None), secret=False)
        _write(root / f"{SERVER_NAME}.key_secret", _cert(public, secret), secret=True)
        written += [root / f"{SERVER_NAME}.key", root / f"{SERVER_NAME}.key_secret"]
    for name in clients:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise KeyFileError(f"client name {name!r} must be letters, digits, '-' or '_'")
        public, secret = zmq.curve_keypair()
        _write(root / CLIENTS / f"{name}.key_secret", _cert(public, secret), secret=True)
        _write(root / AUTHORIZED / f"{name}.key", _cert(public, None), secret=False)
        written += [root / CLIENTS / f"{name}.key_secret", root / AUTHORIZED / f"{name}.key"]
    return written


def _load(root: Path, name: str, secret: bool) -> tuple[bytes, bytes | None]:
    path = root / name
    if not path.is_file():
        raise KeyFileError(
            f"no key file {path}; create keys with `python -m envs.real_robot.server keys {root}`"
        )
    if secret and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by other users; run `chmod 600 {path}`")
    try:
        public, secret_key = load_certificate(path)
    except (OSError, ValueError) as err:
        raise KeyFileError(f"{path} is not a CURVE key file: {err}") from err
    if secret and not secret_key:
        raise KeyFileError(f"{path} has no secret key")
    return public, secret_key


def load_server_keys(folder: str | Path) -> ServerKeys:
    require_curve()
    root = Path(folder)
    public, secret = _load(root, f"{SERVER_NAME}.key_secret", secret=True)
    authorized = root / AUTHORIZED
    if not any(authorized.glob("*.key")):
        raise KeyFileError(
            f"{authorized} lists no client keys, so no client could connect; run "
            f"`python -m envs.real_robot.server keys {root} --client NAME`"
        )
    assert secret is not None
    return ServerKeys(public, secret, authorized)


def load_client_keys(folder: str | Path, name: str = DEFAULT_CLIENT) -> ClientKeys:
    require_curve()
    root = Path(folder)
    public, secret = _load(root, f"{CLIENTS}/{name}.key_secret", secret=True)
    server_public, _ = _load(root, f"{SERVER_NAME}.key", secret=False)
    assert secret is not None
    return ClientKeys(public, secret, server_public)


def apply_client_keys(sock: zmq.Socket, keys: ClientKeys) -> None:
    """Make `sock` (before connect) a CURVE client of the server whose public key it names."""
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_serverkey = keys.server_public


def keys_main(argv: list[str]) -> int:
    """`python -m envs.real_robot.server keys DIR [--client NAME ...]`."""
    p = argparse.ArgumentParser(
        prog="python -m envs.real_robot.server keys",
        description="Create the robot server's CURVE keypair and client keypairs in DIR.",
    )
    p.add_argument("folder", help="key folder (created 0700); give the server --keys FOLDER")
    p.add_argument(
        "--client",
        action="append",
        help=f"a client to authorize (repeatable; default '{DEFAULT_CLIENT}' on first use)",
    )
    args = p.parse_args(argv)
    fresh = not (Path(args.folder) / f"{SERVER_NAME}.key_secret").exists()
    clients = args.client if args.client else ([DEFAULT_CLIENT] if fresh else [])
    try:
        written = create_keys(args.folder, clients)
    except KeyFileError as err:
        print(err, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
