"""Gemini through Google's current SDK, `google-genai` (the older `google-generativeai` is
deprecated and not used). Stage 2 is constrained by an enum response schema (`text/x.enum`).

Defaults follow the paper (gemini-1.5-pro analyses, gemini-1.5-flash picks the category);
override them with `analysis_model=` / `rating_model=` for current models. Keys come from
GEMINI_API_KEYS (comma-separated, rotated) or GEMINI_API_KEY.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from oracle_cache.images import png_bytes
from oracle_cache.types import OracleError
from oracle_cache.vlm import (
    MalformedAnswer,
    Part,
    Reply,
    TransientError,
    VLMProvider,
    transport_errors,
)

TRANSIENT_CODES = {408, 429, 500, 502, 503, 504}
#: connections kept per client (the OpenAI SDK's defaults; httpx's own keep only 20 alive)
MAX_CONNECTIONS, MAX_KEEPALIVE = 1000, 100


def _sdk() -> tuple[Any, Any, Any]:
    try:
        from google import genai
        from google.genai import errors, types
    except ImportError as e:
        raise OracleError(
            "the Gemini provider needs the google-genai SDK: pip install 'vlm-feedback-bench[gemini]'"
        ) from e
    return genai, types, errors


class GeminiProvider(VLMProvider):
    provider = "gemini"
    key_env = ("GEMINI_API_KEYS", "GEMINI_API_KEY")

    def __init__(
        self,
        analysis_model: str = "gemini-1.5-pro",
        rating_model: str | None = "gemini-1.5-flash",
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(analysis_model, rating_model, **kwargs)
        self.api_version = api_version
        self._configs: dict[tuple[str, ...] | None, Any] = {}
        self._configs_lock = threading.Lock()

    def _make_client(self, api_key: str) -> Any:
        genai, types, _ = _sdk()
        http = types.HttpOptions(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=int(self.timeout * 1000),  # milliseconds
        )
        limits = _limits()
        if limits is not None and "client_args" in type(http).model_fields:
            # one connection per request in flight stays open between batches (with TLS to
            # the real API, a reconnect costs a handshake); an older SDK keeps httpx's pool
            http.client_args = {"limits": limits}
        return genai.Client(api_key=api_key, http_options=http)

    def _config(self, enum: Sequence[str] | None) -> Any:
        """One GenerateContentConfig per answer set, built once: the SDK copies, never edits,
        a config, and building and validating one per request is CPU the GIL serialises."""
        key = tuple(enum) if enum is not None else None
        with self._configs_lock:
            config = self._configs.get(key)
            if config is None:
                _, types, _ = _sdk()
                config = types.GenerateContentConfig(
                    temperature=self.temperature, max_output_tokens=self.max_output_tokens
                )
                if enum is not None:
                    config.response_mime_type = "text/x.enum"
                    config.response_schema = types.Schema(type=types.Type.STRING, enum=list(enum))
                self._configs[key] = config
            return config

    def _prepare(self, parts: list[Part]) -> Any:
        """Frames as inline PNG parts, encoded once for every retry; a text-only request (stage
        2) as the bare string, which the SDK sends as the same single user text part."""
        _, types, _ = _sdk()
        if len(parts) == 1 and isinstance(parts[0], str):
            return parts[0]
        return [
            types.Part.from_bytes(data=png_bytes(p), mime_type="image/png")
            if isinstance(p, np.ndarray)
            else types.Part.from_text(text=p)
            for p in parts
        ]

    def _generate(self, client: Any, model: str, parts: Any, enum: Sequence[str] | None) -> Reply:
        _, _, errors = _sdk()
        config = self._config(enum)
        try:
            resp = client.models.generate_content(model=model, contents=parts, config=config)
        except errors.APIError as e:
            if e.code in TRANSIENT_CODES:
                raise TransientError(f"HTTP {e.code}: {e.message}") from None
            raise OracleError(
                f"Gemini refused the request (HTTP {e.code}: {self.keys.redact(str(e.message))}); "
                "check the model name and that GEMINI_API_KEY(S) hold valid keys"
            ) from None
        except transport_errors() as e:
            raise TransientError(f"{type(e).__name__}: {e}") from None
        except (json.JSONDecodeError, ValueError) as e:
            raise MalformedAnswer(f"unreadable response: {e}") from None
        try:
            text = resp.text
        except ValueError as e:
            raise MalformedAnswer(f"no text in the response: {e}") from None
        if text is None:
            raise MalformedAnswer("the response has no text (blocked or empty)")
        u = resp.usage_metadata
        usage = {
            "input_tokens": int(getattr(u, "prompt_token_count", 0) or 0),
            "output_tokens": int(getattr(u, "candidates_token_count", 0) or 0),
        }
        return Reply(text=text, usage=usage, model_version=getattr(resp, "model_version", None))


def _limits() -> Any:
    """Connection limits for the SDK's HTTP client, from httpx2 (what google-genai uses when it
    is installed) or httpx; the SDK picks its backend from the type of this object."""
    for name in ("httpx2", "httpx"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        return mod.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE)
    return None
