"""Where a real-robot episode's success comes from: a person, a detector, or (sim only) the server.

A real robot has no privileged success flag, yet evaluation needs one, so the client asks one of
these after every step. Only `SimulatorSuccess` reads the server's privileged field, and it
refuses to run against a server that has none, so a real robot's results can never quietly
report zeros.
"""

from __future__ import annotations

import importlib
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class SuccessSource(ABC):
    name: str = "success"

    def reset(self) -> None:  # noqa: B027 - most sources keep no per-episode state
        """Called at every episode start."""

    @abstractmethod
    def __call__(
        self, frame: np.ndarray, proprio: np.ndarray, privileged: dict[str, float] | None
    ) -> bool: ...

    def close(self) -> None:  # noqa: B027
        pass


class SimulatorSuccess(SuccessSource):
    """The simulated robot's own success flag (the `real/sim-*` tasks)."""

    name = "simulator"

    def __call__(self, frame, proprio, privileged) -> bool:
        if privileged is None:
            raise RuntimeError(
                "success='simulator' needs a simulated robot, but this server reports no "
                "privileged state; use success='human' or 'detector:package.module:function'"
            )
        return bool(privileged["success"])


class DetectorSuccess(SuccessSource):
    """A user function `detect(frame, proprio) -> bool`, e.g. a classifier on the camera."""

    name = "detector"

    def __init__(self, detect: Callable[[np.ndarray, np.ndarray], bool], label: str = "") -> None:
        self.detect = detect
        self.name = f"detector:{label}" if label else "detector"

    @classmethod
    def from_path(cls, path: str) -> DetectorSuccess:
        module, _, attr = path.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as err:
            raise ValueError(
                f"cannot load success detector '{path}' (expected package.module:function): {err}"
            ) from err
        return cls(fn, path)

    def __call__(self, frame, proprio, privileged) -> bool:
        return bool(self.detect(frame, proprio))


_PAGE = b"""<!doctype html><html><head><title>episode success</title></head>
<body style="font-family:sans-serif;text-align:center;margin-top:15vh">
<p id="state">episode running</p>
<button id="ok" style="font-size:3em;padding:0.5em 1em" onclick="fetch('/success',{method:'POST'})
.then(()=>{document.getElementById('state').textContent='success recorded'})">Success</button>
</body></html>"""


class HumanSuccess(SuccessSource):
    """A person marks success: a big button in a browser, or Enter in the terminal.

    The mark latches until the next reset (MetaWorld's 'success at any step' convention). The
    web button listens on localhost only unless `host` says otherwise.
    """

    name = "human"

    def __init__(self, port: int | None = 8765, host: str = "127.0.0.1", keyboard: bool = False):
        self._flag = threading.Event()
        self.users = 0  # envs sharing this button (see build_success); closed with the last one
        self.server: ThreadingHTTPServer | None = None
        if port is not None:
            flag = self._flag

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(_PAGE)

                def do_POST(self) -> None:  # noqa: N802
                    if self.path != "/success":
                        self.send_error(404)
                        return
                    flag.set()
                    self.send_response(204)
                    self.end_headers()

                def log_message(self, *args: Any) -> None:
                    pass

            self.server = ThreadingHTTPServer((host, port), Handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
            print(
                f"[robot] mark success at http://{host}:{self.server.server_address[1]}/",
                file=sys.stderr,
            )
        if keyboard:
            threading.Thread(target=self._read_keys, daemon=True).start()

    @property
    def url(self) -> str | None:
        if self.server is None:
            return None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def _read_keys(self) -> None:
        print("[robot] press Enter when the task is done", file=sys.stderr)
        for _ in sys.stdin:
            self._flag.set()

    def mark(self) -> None:
        self._flag.set()

    def reset(self) -> None:
        self._flag.clear()

    def __call__(self, frame, proprio, privileged) -> bool:
        return self._flag.is_set()

    def close(self) -> None:
        self.users -= 1
        if self.users > 0 or self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None


_SHARED_BUTTONS: dict[int, HumanSuccess] = {}


def build_success(spec: str) -> SuccessSource:
    """`simulator`, `human`, `human:<port>`, `keyboard` or `detector:package.module:function`."""
    kind, _, rest = spec.partition(":")
    if kind == "simulator":
        return SimulatorSuccess()
    if kind == "human":
        port = int(rest) if rest else 8765
        if port == 0:
            return HumanSuccess(port=0)
        # the training and evaluation envs of a run share one button (one robot, one person)
        shared = _SHARED_BUTTONS.get(port)
        if shared is None or shared.server is None:
            shared = _SHARED_BUTTONS[port] = HumanSuccess(port=port)
        shared.users += 1
        return shared
    if kind == "keyboard":
        return HumanSuccess(port=None, keyboard=True)
    if kind == "detector" and rest:
        return DetectorSuccess.from_path(rest)
    raise ValueError(
        f"unknown success source '{spec}'; use simulator, human[:port], keyboard or "
        "detector:package.module:function"
    )
