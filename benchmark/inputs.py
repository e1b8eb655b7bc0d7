"""What a user typed, checked up front, and secrets kept off the disk.

Every check here runs in the parent process before any worker starts, and a bad input raises
`InputError` whose message is one line that says what to do; `benchmark.cli.main` prints it as
`error: ...` and exits with status 2. Types come from the dataclass fields (or the provider's
`__init__` annotations); ranges come from `RANGES`, keyed by field name, because a name such
as `batch_size` or `tau` means the same thing in every config that has it.

`redact_secrets` is the one function every written config goes through (config.json,
sweep.json, the W&B config): an option whose name says key, token, secret or password keeps
its name and loses its value. The value itself lives only in memory: a sweep hands each
RunConfig to its worker by pickling it through a pipe (Ray: as a task argument), never
through a file. See docs/reliability.md.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import math
import os
import re
import tempfile
import typing
from pathlib import Path
from typing import Any

#: what a secret's value is replaced with wherever a config is written
REDACTED = "<redacted>"
#: a name is secret when one of its words (split at `_`, `-`, `.` and case changes) is one of
#: these; "tokens" is not among them, so `max_output_tokens` and token counts stay readable
SECRET_WORDS = frozenset(
    {"key", "keys", "apikey", "apikeys", "token", "secret", "secrets", "password", "passwd"}
    | {"credential", "credentials"}
)
#: metric mirrors `--log` accepts (metrics.csv is always written)
LOG_SINKS = ("tensorboard", "wandb")
#: more seeds than this in one sweep is a typo (e.g. 0-10000 for 0-10)
MAX_SEEDS = 1000


class InputError(ValueError):
    """A bad input from the user; str(err) is the one line shown after `error: `."""


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric option: lo < x (lo_open) or lo <= x, and x <= hi (x < hi
    with hi_open)."""

    lo: float
    hi: float = math.inf
    lo_open: bool = False
    says: str = ""
    hi_open: bool = False

    def holds(self, x: float) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        return above and (x < self.hi if self.hi_open else x <= self.hi)


_POSITIVE = Range(0, lo_open=True, says="greater than 0")
_COUNT = Range(0, says="0 or more")
_UNIT = Range(0, 1, says="in [0, 1]")
#: ranges by field name, shared by the budget, SAC, method and oracle options
RANGES: dict[str, Range] = {
    **dict.fromkeys(
        [
            "total_steps",
            "feedback_every",
            "queries_per_session",
            "eval_every",
            "eval_episodes",
            "max_episode_steps",
            "offline_episodes",
            "batch_size",
            "ensemble",
            "hidden_dim",
            "hidden_depth",
            "actor_update_every",
            "target_update_every",
            "lr",
            "actor_lr",
            "critic_lr",
            "alpha_lr",
            "k",
            "init_temperature",
            "timeout",
            "max_weight",
            "slot_hidden",
            "replay_capacity",
            "label_chunk",
        ],
        _POSITIVE,
    ),
    **dict.fromkeys(
        [
            "seed_steps",
            "unsup_steps",
            "max_queries",
            "reward_epochs",
            "updates_per_step",
            "reset_updates",
            "query_pool",
            "offline_updates",
            "segment_length",
            "max_attempts",
            "max_reasks",
            "backoff",
            "backoff_max",
            "requests_per_second",
            "max_in_flight",
            "temperature",
            "decay",
            "no_preference_band",
        ],
        _COUNT,
    ),
    **dict.fromkeys(
        [
            "discount",
            "stop_accuracy",
            "label_smoothing",
            "alpha",
            "accuracy",
            "offline_fork_error",
            "offline_dawdle",
        ],
        _UNIT,
    ),
    "tau": Range(0, 1, lo_open=True, says="in (0, 1]"),
    "expectile": Range(0, 1, lo_open=True, hi_open=True, says="in (0, 1)"),
    "levels": Range(2, 5, says="between 2 and 5"),
    "bias": Range(-1, 1, says="in [-1, 1]"),
}


# --- parsing ---------------------------------------------------------------------------------
def parse_list(text: str, flag: str) -> list[str]:
    """'a,b' -> ['a', 'b']; an empty list would run nothing, so it is an error."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise InputError(f"{flag} is empty: name at least one")
    return items


def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """'0,1,2' or '0-4' (or both, '0-2,7') -> seeds; anything else says what was meant."""
    if not text.strip():
        raise InputError(f"{flag} is empty: give seeds like 0,1,2 or a range like 0-4")
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if m is None:
            raise InputError(f"{flag} {part!r}: {_seed_hint(part)}")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise InputError(f"{flag} {part!r}: a range must go up (e.g. {hi}-{lo})")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise InputError(f"{flag} {text!r}: more than {MAX_SEEDS} seeds; is a range mistyped?")
        for s in range(lo, hi + 1):
            if s in seeds:
                raise InputError(f"{flag} {text!r}: seed {s} is given twice")
            seeds.append(s)
    return seeds


def _seed_hint(part: str) -> str:
    if not part:
        return "an empty item between commas; give seeds like 0,1,2"
    if re.fullmatch(r"-\s*\d+", part):
        return "seeds are 0 or more; for a range give both ends (e.g. 0-4)"
    if re.fullmatch(r"\d+\s*-|\s*-", part):
        return "a range needs both ends (e.g. 0-4)"
    return "not a seed; give integers 0 or more like 0,1,2 or a range like 0-4"


def parse_options(pairs: collections.abc.Iterable[str], flag: str) -> dict[str, Any]:
    """key=value options; values are parsed as JSON when they can be (numbers, booleans, lists,
    null), else kept as text. A key given twice is an error, not a silent last-one-wins."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"{flag} {pair!r}: expected key=value (e.g. {flag} name=3)")
        if key in out:
            raise InputError(f"{flag} {key}: given twice; keep one")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def positive_int(text: str) -> int:
    """argparse `type=` for counts such as --jobs (argparse turns the error into one line)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def check_log_sinks(sinks: list[str]) -> list[str]:
    unknown = [s for s in sinks if s not in LOG_SINKS]
    if unknown:
        raise InputError(f"--log {','.join(unknown)}: unknown; choose from {', '.join(LOG_SINKS)}")
    return sinks


# --- option values against their declared types ----------------------------------------------
def check_options(cls: type, options: dict[str, Any], flag: str) -> None:
    """Each option must be a field of the dataclass `cls`, of the field's type and in its range."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise InputError(
            f"{flag} {', '.join(unknown)}: no such option for {cls.__name__}; "
            f"valid: {', '.join(names)}"
        )
    hints = _hints(cls)
    for name, value in options.items():
        check_value(name, value, hints.get(name, Any), flag)


def check_call_options(cls: type, options: dict[str, Any], flag: str) -> None:
    """Like `check_options` for a class configured through `__init__` (the oracle providers):
    the annotations of every `__init__` in its MRO give the types; unknown names are left to
    the class, whose own error lists what it accepts."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not object:
            hints.update(_hints(init))
    for name, value in options.items():
        check_value(name, value, hints.get(name, Any), flag)


def _hints(obj: Any) -> dict[str, Any]:
    """Resolved annotations, or none when a plug-in's cannot be resolved (then only ranges)."""
    try:
        return typing.get_type_hints(obj)
    except Exception:  # noqa: BLE001 - an unresolvable annotation must not block a run
        return {}


def check_value(name: str, value: Any, tp: Any, flag: str) -> None:
    """One value against a type (int, float, bool, str, Literal, X | None) and RANGES[name]."""
    shown = f"{flag} {name}={_show(name, value)}"
    ok, says = _matches(value, tp)
    if not ok:
        raise InputError(f"{shown}: must be {says}")
    rng = RANGES.get(name)
    if rng is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{shown}: must be a finite number")
    if not rng.holds(value):
        raise InputError(f"{shown}: must be {rng.says}")


def _matches(value: Any, tp: Any) -> tuple[bool, str]:
    """(does `value` fit `tp`, what `tp` is in words)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return True, "anything"
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        results = [_matches(value, a) for a in args]
        return any(ok for ok, _ in results), " or ".join(says for _, says in results)
    if tp is type(None):
        return value is None, "null"
    if origin is typing.Literal:
        return value in args, "one of " + ", ".join(repr(a) for a in args)
    if tp is bool:
        return isinstance(value, bool), "true or false"
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), "an integer"
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            return False, "a finite number"
        return ok, "a number"
    if tp is str:
        return isinstance(value, str), "text"
    if origin in (list, tuple, collections.abc.Sequence) and len(args) == 1:
        items = [_matches(v, args[0]) for v in value] if isinstance(value, (list, tuple)) else []
        ok = isinstance(value, (list, tuple)) and all(ok for ok, _ in items)
        return ok, f"a list of {_matches(None, args[0])[1]}"
    return True, "anything"  # lists, dicts, sequences: the class checks them itself


def _show(name: str, value: Any) -> str:
    return REDACTED if is_secret(name) else json.dumps(value, default=str)


# --- the oracle ------------------------------------------------------------------------------
def check_oracle(provider: str, options: dict[str, Any]) -> None:
    """A known provider, and options it accepts, of the right types: checked by building the
    provider here (clients are made lazily, so this makes no connection and needs no key)."""
    from oracle_cache.factory import PROVIDERS, _provider_class, make_provider

    if provider not in PROVIDERS:
        raise InputError(
            f"--oracle {provider!r}: unknown; choose one of {', '.join(PROVIDERS)} "
            "(gemini and openai read their keys from GEMINI_API_KEY / OPENAI_API_KEY)"
        )
    opts = {k: v for k, v in options.items() if k not in ("max_in_flight", "keep_frames")}
    check_call_options(_provider_class(provider), opts, "--oracle-opt")
    for name in ("max_in_flight",):
        if name in options:
            check_value(name, options[name], int, "--oracle-opt")
    try:
        make_provider(provider, opts)
    except (ValueError, TypeError, AttributeError) as err:
        raise InputError(f"--oracle-opt: {_scrub(str(err), options)}") from None


# --- directories -----------------------------------------------------------------------------
def check_writable_dir(path: str | os.PathLike[str], flag: str, write: bool = True) -> None:
    """`path` is a directory (or can be created as one) that this process can write into;
    with `write=False` (a cache read in replay mode) only that it is not a file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{flag} {str(p)!r} is a file; give a directory (created if missing)")
    probe = p.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{flag} {str(p)!r}: {str(probe)!r} is a file, not a directory")
    if not write:
        return
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        raise InputError(
            f"{flag} {str(p)!r}: cannot write in {str(probe)!r} ({err.strerror}); "
            "choose a directory you can write to"
        ) from None


def check_existing_dir(path: str | os.PathLike[str], what: str) -> None:
    p = Path(path)
    if not p.is_dir():
        state = "is a file" if p.exists() else "does not exist"
        raise InputError(f"{what} {str(p)!r} {state}; give the --out directory of a sweep")


def read_json_file(path: str | os.PathLike[str], flag: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(f"{flag} {str(path)!r}: cannot read it ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{flag} {str(path)!r}: not JSON ({err})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{flag} {str(path)!r}: expected a JSON object of RunConfig fields")
    return doc


# --- secrets ---------------------------------------------------------------------------------
def is_secret(name: str) -> bool:
    """Does this option name say key, token, secret or password (`api_keys`, `hf_token`...)?"""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return any(w.lower() in SECRET_WORDS for w in re.split(r"[\W_]+", spaced) if w)


def redact_secrets(data: Any) -> Any:
    """A copy of `data` (dicts, lists, dataclasses) with the value of every secret-named entry
    replaced by REDACTED, and those values also cut out of any other text (an error message
    that quotes one). Numbers under such names (token counts) are kept: secrets are text."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        data = dataclasses.asdict(data)
    found: set[str] = set()
    _collect(data, found)
    return _replace(data, sorted(found, key=len, reverse=True))


def _secret_texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value and value != REDACTED else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v and v != REDACTED]
    return []


def _collect(data: Any, found: set[str]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if is_secret(k):
                found.update(_secret_texts(v))
            _collect(v, found)
    elif isinstance(data, (list, tuple)):
        for v in data:
            _collect(v, found)


def _replace(data: Any, secrets: list[str]) -> Any:
    if isinstance(data, dict):
        return {
            k: REDACTED if is_secret(k) and _secret_texts(v) else _replace(v, secrets)
            for k, v in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [_replace(v, secrets) for v in data]
    if isinstance(data, str):
        return _scrub_text(data, secrets)
    return data


def _scrub_text(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if len(s) >= 4:  # a one-letter "key" would mangle every text it occurs in
            text = text.replace(s, REDACTED)
    return text


def _scrub(text: str, options: dict[str, Any]) -> str:
    found: set[str] = set()
    _collect(options, found)
    return _scrub_text(text, sorted(found, key=len, reverse=True))


def drop_redacted(options: dict[str, Any]) -> dict[str, Any]:
    """A config read back from disk has REDACTED where a secret was: leave those options out,
    so the provider takes its key from the environment (GEMINI_API_KEY, OPENAI_API_KEY)."""
    return {k: v for k, v in options.items() if v != REDACTED}


def first_line(err: BaseException) -> str:
    """An exception as one line for the user (its type when it has no message)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
