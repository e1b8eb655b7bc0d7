"""A loopback HTTP server speaking enough of Gemini's REST API (`generateContent`) and OpenAI's
chat completions for the real SDK clients to talk to it, answering from the scripted teacher.

It exists so the real providers can be tested and benchmarked with no internet: point the SDK
at `server.url` (Gemini `base_url`) or `server.url + "/v1"` (OpenAI `base_url`). Frames made by
`coded_frame` carry their task progress in the red channel; stage 1 reports it in an analysis
that names a reference, and stage 2 looks the frames up by that reference and lets the scripted
teacher answer. Latency and faults (429, 500, timeouts, malformed JSON, an answer outside the
enum) are injectable, and every request is logged so tests can count what was paid for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from oracle_cache.images import decode_png
from oracle_cache.keys import frame_digest
from oracle_cache.prompts import PREFERENCE_ANSWERS
from oracle_cache.scripted import ScriptedTeacher

FAULTS = ("429", "500", "timeout", "malformed_json", "bad_enum")
REF = re.compile(r"ref=([0-9a-f]{16})")


def _b64(data: str) -> bytes:
    """Standard or URL-safe base64, padded or not (SDKs differ)."""
    data = data.replace("-", "+").replace("_", "/")
    return base64.b64decode(data + "=" * (-len(data) % 4))


def coded_frame(progress: float, salt: int = 0, size: int = 16) -> np.ndarray:
    """A uint8 RGB frame whose red channel encodes `progress` (the rest is noise from `salt`)."""
    rng = np.random.default_rng(salt)
    frame = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    frame[:, :, 0] = int(round(float(np.clip(progress, 0.0, 1.0)) * 255))
    return frame


def decoded_progress(frame: np.ndarray) -> float:
    return float(np.asarray(frame)[:, :, 0].mean()) / 255.0


@dataclass
class Logged:
    api: str
    stage: int
    ref: str
    status: int
    fault: str | None
    key: str


class FakeVLMServer:
    """`with FakeVLMServer(latency=0.2) as srv:`; faults via `queue_faults` or `fault_rates`."""

    def __init__(
        self,
        latency: float = 0.0,
        teacher: ScriptedTeacher | None = None,
        task: str = "",
        timeout_delay: float = 2.0,
        fault_rates: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.latency = latency
        self.teacher = teacher or ScriptedTeacher()
        self.task = task
        self.timeout_delay = timeout_delay
        self.fault_rates = dict(fault_rates or {})
        self._rng = random.Random(seed)
        self._faults: deque[str] = deque()
        self._refs: dict[str, list[list[np.ndarray]]] = {}
        self._lock = threading.Lock()
        self.log: list[Logged] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeVLMServer:
        server = self

        class Handler(_Handler):
            owner = server

        class Httpd(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self._httpd = Httpd(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeVLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- faults and accounting ----------------------------------------------------------------
    def queue_faults(self, faults: Iterable[str]) -> None:
        """Faults for the next requests, in order (`bad_enum` waits for a stage-2 request)."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; choose from {FAULTS}")
            self._faults.append(f)

    def _take_fault(self, stage: int) -> str | None:
        with self._lock:
            for i, f in enumerate(self._faults):
                if f != "bad_enum" or stage == 2:
                    del self._faults[i]
                    return f
            for f, p in self.fault_rates.items():
                if (f != "bad_enum" or stage == 2) and self._rng.random() < p:
                    return f
        return None

    def paid_answers(self) -> Counter[str]:
        """Stage-2 answers served with 200 and a usable body, per query reference."""
        with self._lock:
            return Counter(
                e.ref for e in self.log if e.stage == 2 and e.status == 200 and e.fault is None
            )

    def keys_seen(self) -> set[str]:
        with self._lock:
            return {e.key for e in self.log}

    # --- answering ----------------------------------------------------------------------------
    def _stage1(self, groups: list[list[np.ndarray]]) -> tuple[str, str]:
        h = hashlib.sha256()
        for g in groups:
            for f in g:
                h.update(frame_digest(f).encode())
            h.update(b"|")
        ref = h.hexdigest()[:16]
        with self._lock:
            self._refs[ref] = groups
        shown = "; ".join(
            f"image {i + 1}: progress about {decoded_progress(g[-1]):.2f}"
            for i, g in enumerate(groups)
        )
        return ref, f"[fake VLM server, answering from the scripted teacher] ref={ref}. {shown}."

    def _stage2(self, text: str, enum: list[str]) -> tuple[str, str]:
        m = REF.search(text)
        with self._lock:
            groups = self._refs.get(m.group(1)) if m else None
        if groups is None:
            raise KeyError("stage 2 names no analysis this server made")
        ref = m.group(1) if m else ""
        if list(enum) == list(PREFERENCE_ANSWERS):
            a, b = groups[0], groups[-1]
            ctx = {
                "task": self.task,
                "a": {"progress": decoded_progress(a[-1])},
                "b": {"progress": decoded_progress(b[-1])},
            }
            return ref, str(self.teacher.prefer(a, b, "", ctx).label)
        frames = groups[0]
        p = decoded_progress(frames[-1])
        ctx = {"task": self.task, "progress": p, "success": p >= 0.999}
        return ref, enum[self.teacher.rate(frames, "", len(enum), ctx).level]


def _images_and_texts(items: list[tuple[str, Any]]) -> tuple[list[list[np.ndarray]], str]:
    """Group images: "Image 1:"/"Image 2:" text parts start new groups (preference queries)."""
    groups: list[list[np.ndarray]] = [[]]
    texts = []
    for kind, value in items:
        if kind == "image":
            groups[-1].append(value)
        else:
            texts.append(value)
            if value.strip() == "Image 2:":
                groups.append([])
    return [g for g in groups if g], "\n".join(texts)


def _enum_from_text(text: str) -> list[str]:
    """Without a schema (OpenAI `structured=False`), read the options the v1 prompts list."""
    if "Reply with the number only" in text:
        return list(PREFERENCE_ANSWERS)
    m = re.search(r"from worst to best: (.*?)\. '", text)
    return [s.strip() for s in m.group(1).split(",")] if m else []


class _Handler(BaseHTTPRequestHandler):
    owner: FakeVLMServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, Nagle + the client's delayed ACK
    # add ~40 ms to every response, which the throughput benchmark would charge to the cache
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes | dict) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout fault)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.owner
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.endswith(":generateContent"):
            api, key = "gemini", self.headers.get("x-goog-api-key", "")
            items, enum = _gemini_request(body)
        elif self.path.endswith("/chat/completions"):
            api = "openai"
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            items, enum = _openai_request(body)
        else:
            self._send(404, {"error": {"code": 404, "message": f"no route {self.path}"}})
            return
        groups, text = _images_and_texts(items)
        stage = 1 if groups else 2
        fault = srv._take_fault(stage)
        if srv.latency:
            time.sleep(srv.latency)
        ref, status = "", 200
        try:
            if stage == 1:
                ref, answer = srv._stage1(groups)
            else:
                ref, answer = srv._stage2(text, enum or _enum_from_text(text))
                if fault == "bad_enum":
                    answer = "Excellent"
        except KeyError as e:
            status, answer = 400, str(e)
        with srv._lock:
            srv.log.append(
                Logged(api, stage, ref, 200 if fault == "timeout" else status, fault, key)
            )
        if fault in ("429", "500"):
            code = int(fault)
            self._send(code, {"error": {"code": code, "message": "injected", "status": "X"}})
            return
        if fault == "timeout":
            time.sleep(srv.timeout_delay)
        if fault == "malformed_json":
            self._send(200, b'{"candidates": [{"content": {"parts": [{"text": "Go')
            return
        if status != 200:
            self._send(status, {"error": {"code": status, "message": answer}})
            return
        model = self.path.rsplit("/", 1)[-1].split(":")[0] if api == "gemini" else body["model"]
        if api == "gemini":
            self._send(200, _gemini_reply(answer, model))
        else:
            structured = body.get("response_format") is not None
            content = json.dumps({"answer": answer}) if structured and stage == 2 else answer
            self._send(200, _openai_reply(content, model))


def _gemini_request(body: dict) -> tuple[list[tuple[str, Any]], list[str] | None]:
    items: list[tuple[str, Any]] = []
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                items.append(("image", decode_png(_b64(inline["data"]))))
            elif "text" in part:
                items.append(("text", part["text"]))
    cfg = body.get("generationConfig") or body.get("generation_config") or {}
    schema = cfg.get("responseSchema") or cfg.get("response_schema") or {}
    return items, schema.get("enum")


def _openai_request(body: dict) -> tuple[list[tuple[str, Any]], list[str] | None]:
    items: list[tuple[str, Any]] = []
    for msg in body.get("messages", []):
        content = msg.get("content")
        if isinstance(content, str):
            items.append(("text", content))
            continue
        for part in content or []:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                items.append(("image", decode_png(_b64(url.split(",", 1)[1]))))
            elif part.get("type") == "text":
                items.append(("text", part["text"]))
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    enum = ((schema.get("properties") or {}).get("answer") or {}).get("enum")
    return items, enum


def _gemini_reply(text: str, model: str) -> dict:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 10,
            "totalTokenCount": 110,
        },
        "modelVersion": model,
    }


def _openai_reply(content: str, model: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


def main(argv: list[str] | None = None) -> None:
    """Run the server in its own process (benchmarks: keeps its CPU and GIL off the client's).

    Prints its URL on the first line of stdout, then serves until stdin closes.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m oracle_cache.testing.fake_server")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    ap.add_argument("--accuracy", type=float, default=None, help="scripted teacher accuracy")
    ap.add_argument("--task", default="")
    a = ap.parse_args(argv)
    with FakeVLMServer(a.latency, ScriptedTeacher(accuracy=a.accuracy), a.task) as srv:
        print(srv.url, flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us


if __name__ == "__main__":
    main()
