"""One stored answer: its fields, its JSON form and the checks that make it tamper-evident.

The cache key hashes the question only. So that an edited answer is caught too, every entry
written by this version carries `digest`: sha256 over its canonical JSON without `digest`,
which covers the key and question document, the kind, the answer, the analysis, the meta,
the time and the frame digests. An entry without `digest` was
written before digests existed: it is "unsigned" (legacy), still served, reported by
`verify`, and signed by `verify --rehash`. An entry whose digest is present but wrong is
corrupt and never served.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from oracle_cache.keys import canonical_json, key_of

ENTRY_FIELDS = ("key", "kind", "answer", "analysis", "meta", "created", "frames", "document")
DIGEST = "digest"
#: a sha256 in lowercase hex: every key and frame name, checked before any path is built
HEX64 = re.compile(r"[0-9a-f]{64}")
#: domain tag so an entry digest can never equal a key or a frame digest of the same bytes
_TAG = b"oracle-cache-entry/1\n"
PREFERENCE_LABELS = (0, 1, -1)
#: a rate question the oracle left unanswered (`oracle_cache.teachers.UNANSWERED`: the `skip`
#: profile, an unparsable reply): a valid stored answer, so such runs replay from their cache
UNANSWERED_RATING = -1
_MEMBER = f',"{DIGEST}":"'


class CorruptEntry(ValueError):
    """A stored entry that does not match its key or digest, lacks fields or is out of range."""


def is_hex_digest(value: Any) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def decode_entry(raw: Any) -> Any:
    if isinstance(raw, (str, bytes)):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw  # entries written as dicts by an earlier version


def encode_entry(entry: Mapping[str, Any]) -> str:
    return canonical_json(entry)


def entry_digest(entry: Mapping[str, Any]) -> str:
    """sha256 over the entry's canonical JSON less `digest`."""
    body = {k: v for k, v in entry.items() if k != DIGEST}
    return hashlib.sha256(_TAG + canonical_json(body).encode()).hexdigest()


def _digest_matches(raw: Any, entry: Mapping[str, Any]) -> bool:
    """Whether `entry` (decoded from `raw`) matches its digest.

    Entries are stored as canonical JSON, so the stored text less its `,"digest":"…"` member
    is the very text that was signed: hashing that (~2 us for a 1 KB entry) spares the
    re-serialisation (~20 us), which is what a replayed rating would otherwise pay. A text
    stored any other way is re-serialised. The shortcut cannot accept an edited entry: a match
    means the text less that member is exactly the signed canonical text.
    """
    if isinstance(raw, str):
        at = raw.find(_MEMBER)
        end = at + len(_MEMBER) + 64
        if at > 0 and raw[end : end + 1] == '"' and raw[at + len(_MEMBER) : end] == entry[DIGEST]:
            text = raw[:at] + raw[end + 1 :]
            if hashlib.sha256(_TAG + text.encode()).hexdigest() == entry[DIGEST]:
                return True
    return entry[DIGEST] == entry_digest(entry)


def sign_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as stored (a JSON round trip, so the digest recomputes after decoding) + digest."""
    out = json.loads(canonical_json({k: v for k, v in entry.items() if k != DIGEST}))
    out[DIGEST] = entry_digest(out)
    return out


def is_signed(entry: Mapping[str, Any]) -> bool:
    return DIGEST in entry


def _check_frames(key: str, entry: Mapping[str, Any]) -> None:
    frames = entry["document"].get("frames")
    if entry["frames"] != frames or not isinstance(frames, list):
        raise CorruptEntry(f"entry {key[:16]}… lists other frames than its question")
    for group in frames:
        if not isinstance(group, list) or not all(is_hex_digest(d) for d in group):
            raise CorruptEntry(f"entry {key[:16]}… has a frame digest that is not sha256 hex")


def _check_answer(key: str, entry: Mapping[str, Any]) -> None:
    answer, kind = entry["answer"], entry["kind"]
    if type(answer) is not int:
        raise CorruptEntry(f"entry {key[:16]}… has a non-integer answer")
    if kind != entry["document"].get("kind"):
        raise CorruptEntry(f"entry {key[:16]}… is a {kind!r} answer to another kind of question")
    if kind == "rate":
        levels = entry["document"].get("levels")
        if type(levels) is not int or not (0 <= answer < levels or answer == UNANSWERED_RATING):
            raise CorruptEntry(
                f"entry {key[:16]}… rates {answer}, outside 0..{levels}-1 (or -1, unanswered) "
                "of its question"
            )
    elif kind == "prefer":
        if answer not in PREFERENCE_LABELS:
            raise CorruptEntry(f"entry {key[:16]}… has preference label {answer}, not 0, 1 or -1")
    else:
        raise CorruptEntry(f"entry {key[:16]}… has unknown kind {kind!r}")


def check_entry(key: str, entry: Any, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The entry itself if it is whole, answers the question that hashes to `key`, holds an
    answer in range and (when signed) matches its digest; CorruptEntry naming the key otherwise.

    `document`: the question just hashed to `key`, if the caller has it; an equal stored
    document then needs no re-hashing (the replay fast path).
    """
    raw, entry = entry, decode_entry(entry)
    if not isinstance(entry, dict) or any(f not in entry for f in ENTRY_FIELDS):
        raise CorruptEntry(f"entry {key[:16]}… is missing fields or is not JSON")
    if not isinstance(entry["document"], dict) or entry["key"] != key:
        raise CorruptEntry(f"entry {key[:16]}… does not hash to its key")
    same = document is not None and entry["document"] == document
    if not same and key_of(entry["document"]) != key:
        raise CorruptEntry(f"entry {key[:16]}… does not hash to its key")
    _check_frames(key, entry)
    _check_answer(key, entry)
    if DIGEST in entry and not _digest_matches(raw, entry):
        raise CorruptEntry(
            f"entry {key[:16]}… does not match its digest: it was edited after it was recorded"
        )
    return entry
