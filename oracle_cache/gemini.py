"""Gemini through Google's current SDK, `google-genai` (the older `google-generativeai` is
deprecated and not used). Stage 2 is constrained by an enum response schema (`text/x.enum`).

Defaults follow the paper (gemini-1.5-pro analyses, gemini-1.5-flash picks the category);
override them with `analysis_model=` / `rating_model=` for current models. Keys come from
GEMINI_API_KEYS (comma-separated, rotated) or GEMINI_API_KEY.
"""

from __future__ import annotations

import json
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

    def _make_client(self, api_key: str) -> Any:
        genai, types, _ = _sdk()
        http = types.HttpOptions(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=int(self.timeout * 1000),  # milliseconds
        )
        return genai.Client(api_key=api_key, http_options=http)

    def _generate(
        self, client: Any, model: str, parts: list[Part], enum: Sequence[str] | None
    ) -> Reply:
        _, types, errors = _sdk()

        contents = [
            types.Part.from_bytes(data=png_bytes(p), mime_type="image/png")
            if isinstance(p, np.ndarray)
            else types.Part.from_text(text=p)
            for p in parts
        ]
        config = types.GenerateContentConfig(
            temperature=self.temperature, max_output_tokens=self.max_output_tokens
        )
        if enum is not None:
            config.response_mime_type = "text/x.enum"
            config.response_schema = types.Schema(type=types.Type.STRING, enum=list(enum))
        try:
            resp = client.models.generate_content(model=model, contents=contents, config=config)
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
