"""OpenAI-compatible chat completions with images (GPT-4o-class models, vLLM, Ollama, ...).

Frames go as PNG data URLs. Stage 2 asks for a JSON object whose one field is constrained by an
enum (`response_format` json_schema); servers without structured output can set
`structured=False`, and the bare reply must then name one category exactly. `base_url` points
at any compatible server. Keys come from OPENAI_API_KEY (comma-separated keys are rotated).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from oracle_cache.images import png_base64
from oracle_cache.types import OracleError
from oracle_cache.vlm import MalformedAnswer, Part, Reply, TransientError, VLMProvider

TRANSIENT_CODES = {408, 409, 429, 500, 502, 503, 504}


def _sdk() -> Any:
    try:
        import openai
    except ImportError as e:
        raise OracleError(
            "the OpenAI-compatible provider needs the openai SDK: "
            "pip install 'vlm-feedback-bench[openai]'"
        ) from e
    return openai


class OpenAICompatProvider(VLMProvider):
    provider = "openai"
    key_env = ("OPENAI_API_KEYS", "OPENAI_API_KEY")

    def __init__(
        self,
        analysis_model: str = "gpt-4o",
        rating_model: str | None = None,
        structured: bool = True,
        image_detail: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(analysis_model, rating_model, **kwargs)
        self.structured = bool(structured)
        self.image_detail = image_detail

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["params"] = {
            **ident["params"],
            "structured": self.structured,
            "image_detail": self.image_detail,
        }
        return ident

    def _make_client(self, api_key: str) -> Any:
        openai = _sdk()
        # retries are ours (tenacity, with key rotation), so the SDK's own are off
        return openai.OpenAI(
            api_key=api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0
        )

    def _content(self, parts: list[Part]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in parts:
            if isinstance(p, np.ndarray):
                url = "data:image/png;base64," + png_base64(p)
                out.append(
                    {"type": "image_url", "image_url": {"url": url, "detail": self.image_detail}}
                )
            else:
                out.append({"type": "text", "text": p})
        return out

    def _generate(
        self, client: Any, model: str, parts: list[Part], enum: Sequence[str] | None
    ) -> Reply:
        openai = _sdk()
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": self._content(parts)}],
            "temperature": self.temperature,
        }
        if self.max_output_tokens:
            kwargs["max_tokens"] = self.max_output_tokens
        if enum is not None and self.structured:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"answer": {"type": "string", "enum": list(enum)}},
                        "required": ["answer"],
                        "additionalProperties": False,
                    },
                },
            }
        try:
            resp = client.chat.completions.create(**kwargs)
        except openai.APIStatusError as e:
            if e.status_code in TRANSIENT_CODES:
                raise TransientError(f"HTTP {e.status_code}") from None
            raise OracleError(
                f"the OpenAI-compatible server refused the request (HTTP {e.status_code}); "
                "check the model name, base_url and OPENAI_API_KEY"
            ) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise TransientError(type(e).__name__) from None
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError) as e:
            raise MalformedAnswer(f"unreadable response: {type(e).__name__}") from None
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise MalformedAnswer("the response has no choices")
        text = choices[0].message.content
        if not isinstance(text, str):
            raise MalformedAnswer("the response has no text content")
        u = getattr(resp, "usage", None)
        usage = {
            "input_tokens": int(getattr(u, "prompt_tokens", 0) or 0),
            "output_tokens": int(getattr(u, "completion_tokens", 0) or 0),
        }
        return Reply(text=text, usage=usage, model_version=getattr(resp, "model", None))
