"""What every real VLM provider shares: the two-stage queries, parsing, retries, keys, pacing.

A provider subclass only turns a list of parts (text and frames) into one model call on its
wire format (`_generate`) and sorts its SDK's exceptions into `TransientError` (retried with
exponential back-off and jitter: 429, 5xx, timeouts, dropped connections), `MalformedAnswer`
(re-asked a bounded number of times) and anything else (a permanent `OracleError`).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tenacity

from oracle_cache.keyring import KeyRing
from oracle_cache.prompts import (
    PREFER_V1,
    PREFERENCE_ANSWERS,
    RATE_V1,
    get_prefer_prompt,
    get_rate_prompt,
    key_text,
    level_names,
)
from oracle_cache.ratelimit import RateLimiter
from oracle_cache.types import OracleError, Preference, Rating

Part = str | np.ndarray


class TransientError(Exception):
    """Worth retrying after a pause: rate limited, server error, timeout, connection reset."""


class MalformedAnswer(Exception):
    """The provider answered, but not something usable (bad JSON, empty, outside the enum)."""


@dataclass
class Reply:
    text: str
    usage: dict[str, int] = field(default_factory=dict)
    model_version: str | None = None


def transport_errors() -> tuple[type[BaseException], ...]:
    """Timeouts and dropped connections of httpx and of its fork httpx2 (SDKs use either)."""
    out: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            mod = __import__(name)
        except ImportError:
            continue
        out += [mod.TimeoutException, mod.TransportError]
    return tuple(out)


def parse_choice(raw: str | None, options: Sequence[str]) -> int | None:
    """Index of the option the answer names exactly (case, quotes, a JSON wrapper ignored)."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and len(doc) == 1:
        doc = next(iter(doc.values()))
    if isinstance(doc, (str, int)) and not isinstance(doc, bool):
        text = str(doc)
    norm = text.strip().strip("\"'`*").rstrip(".").strip().lower()
    for i, opt in enumerate(options):
        if norm == opt.lower():
            return i
    return None


class VLMProvider(ABC):
    """Base of the Gemini and OpenAI-compatible providers (not usable on its own)."""

    provider = "vlm"
    key_env: tuple[str, ...] = ()
    cost_per_query = 0.0

    def __init__(
        self,
        analysis_model: str,
        rating_model: str | None = None,
        *,
        api_keys: str | Sequence[str] | None = None,
        base_url: str | None = None,
        temperature: float = 0.0,
        max_output_tokens: int | None = None,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        max_reasks: int = 2,
        requests_per_second: float = 0.0,
        max_in_flight: int = 0,
        rate_prompt: str = RATE_V1.version,
        prefer_prompt: str = PREFER_V1.version,
        price_in_per_mtok: float | None = None,
        price_out_per_mtok: float | None = None,
    ) -> None:
        self.analysis_model = analysis_model
        self.rating_model = rating_model or analysis_model
        self.keys = KeyRing.from_env(*self.key_env, explicit=api_keys)
        self.base_url = base_url
        self.temperature = float(temperature)
        self.max_output_tokens = max_output_tokens
        self.timeout = float(timeout)
        self.max_attempts = max(1, int(max_attempts))
        self.backoff = float(backoff)
        self.backoff_max = float(backoff_max)
        self.max_reasks = max(0, int(max_reasks))
        self.limiter = RateLimiter(requests_per_second, max_in_flight=int(max_in_flight))
        self.rate_prompt = get_rate_prompt(rate_prompt)
        self.prefer_prompt = get_prefer_prompt(prefer_prompt)
        self.prompt_version = f"{self.rate_prompt.version}+{self.prefer_prompt.version}"
        self.prices = (price_in_per_mtok, price_out_per_mtok)
        models = (
            self.analysis_model
            if self.analysis_model == self.rating_model
            else f"{self.analysis_model}+{self.rating_model}"
        )
        self.name = f"{self.provider}:{models}"
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.keys!r})"

    # --- identity and prompts (the cache key) -------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "models": {"analysis": self.analysis_model, "rating": self.rating_model},
            "params": {
                "temperature": self.temperature,
                "max_output_tokens": self.max_output_tokens,
            },
        }

    def prompt(self, kind: str, instruction: str, levels: int | None, n_frames: int = 1) -> str:
        return key_text(
            self.rate_prompt.version,
            self.prefer_prompt.version,
            kind,
            instruction,
            levels,
            n_frames,
        )

    # --- the wire (subclasses) ----------------------------------------------------------------
    @abstractmethod
    def _make_client(self, api_key: str) -> Any:
        """The SDK client for one API key (created lazily, on the first real call)."""

    def _prepare(self, parts: list[Part]) -> Any:
        """The parts in the SDK's form, built once per stage and reused by every retry and
        re-ask (frames are PNG-encoded here, not once per attempt). Default: as they are."""
        return parts

    @abstractmethod
    def _generate(self, client: Any, model: str, parts: Any, enum: Sequence[str] | None) -> Reply:
        """One request on the wire, of `_prepare(parts)`; raise TransientError for what a
        retry may fix."""

    def _client(self) -> Any:
        index, key = self.keys.next()
        with self._clients_lock:
            if index not in self._clients:
                self._clients[index] = self._make_client(key)
            return self._clients[index]

    # --- calls with retries -------------------------------------------------------------------
    def _once(self, model: str, parts: Any, enum: Sequence[str] | None) -> Reply:
        client = self._client()  # the next key: a retry after a 429 moves on to another key
        with self.limiter.slot():
            return self._generate(client, model, parts, enum)

    def _call(self, model: str, parts: Any, enum: Sequence[str] | None, stats: dict) -> Reply:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential_jitter(
                initial=self.backoff, max=self.backoff_max, jitter=self.backoff
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    stats["calls"] = stats.get("calls", 0) + 1
                    return self._once(model, parts, enum)
        except TransientError as e:
            raise OracleError(
                f"{self.name}: gave up after {self.max_attempts} attempts: "
                f"{self.keys.redact(str(e))}. Check the provider's status and your quota, "
                "lower max_in_flight / requests_per_second, or raise max_attempts; rerunning "
                "in record mode resumes where this stopped (answers already paid for are kept)."
            ) from None
        raise AssertionError("unreachable")

    def _ask(
        self, model: str, parts: list[Part], enum: Sequence[str] | None, stats: dict
    ) -> tuple[Reply, int | None]:
        """One stage, re-asked up to `max_reasks` times while the answer is unusable."""
        last = ""
        payload = self._prepare(parts)
        for _ in range(self.max_reasks + 1):
            try:
                reply = self._call(model, payload, enum, stats)
            except MalformedAnswer as e:
                last = self.keys.redact(str(e))
                stats["malformed"] = stats.get("malformed", 0) + 1
                continue
            if enum is None:
                if reply.text.strip():
                    return reply, None
                last = "an empty analysis"
            else:
                choice = parse_choice(reply.text, enum)
                if choice is not None:
                    return reply, choice
                last = f"{reply.text[:80]!r}, which is not one of {list(enum)}"
            stats["malformed"] = stats.get("malformed", 0) + 1
        raise OracleError(
            f"{self.name} ({model}) gave no usable answer in {self.max_reasks + 1} tries; last: "
            f"{last}. Try another model (or raise max_reasks); nothing was cached for this query."
        )

    def _meta(self, replies: Sequence[Reply], raw: str, stats: dict) -> dict[str, Any]:
        usage: dict[str, int] = {}
        for r in replies:
            for k, v in r.usage.items():
                usage[k] = usage.get(k, 0) + int(v or 0)
        meta: dict[str, Any] = {
            "provider": self.provider,
            "models": {"analysis": self.analysis_model, "rating": self.rating_model},
            "model_versions": [r.model_version for r in replies if r.model_version],
            "prompt_version": self.prompt_version,
            "raw_answer": raw,
            "calls": stats.get("calls", 0),
            "malformed": stats.get("malformed", 0),
            "usage": usage,
        }
        pin, pout = self.prices
        if pin is not None and pout is not None:
            meta["cost_usd"] = (
                usage.get("input_tokens", 0) * pin + usage.get("output_tokens", 0) * pout
            ) / 1e6
        return meta

    # --- the Oracle protocol ------------------------------------------------------------------
    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating:
        names = level_names(levels)
        n = len(frames)
        stats: dict[str, int] = {}
        first, _ = self._ask(
            self.analysis_model, [*frames, self.rate_prompt.stage1(instruction, n)], None, stats
        )
        choose = self.rate_prompt.stage2(instruction, levels, n, first.text)
        second, level = self._ask(self.rating_model, [choose], names, stats)
        assert level is not None
        return Rating(
            level=level, analysis=first.text, meta=self._meta([first, second], second.text, stats)
        )

    def prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None = None,
    ) -> Preference:
        stats: dict[str, int] = {}
        parts: list[Part] = [
            "Image 1:",
            *frames_a,
            "Image 2:",
            *frames_b,
            self.prefer_prompt.stage1(instruction),
        ]
        first, _ = self._ask(self.analysis_model, parts, None, stats)
        choose = self.prefer_prompt.stage2(instruction, first.text)
        second, idx = self._ask(self.rating_model, [choose], PREFERENCE_ANSWERS, stats)
        assert idx is not None
        return Preference(
            label=int(PREFERENCE_ANSWERS[idx]),
            analysis=first.text,
            meta=self._meta([first, second], second.text, stats),
        )
