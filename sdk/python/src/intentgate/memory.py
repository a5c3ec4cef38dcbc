"""Signed memory items for trusted writers (docs/spec/memory-provenance.md).

A writer's Ed25519 seed is HKDF-SHA256(tenant key, "intentgate.memory-writer.v1", writer): whoever holds
the token keys can derive it, an agent cannot. A writer can also be handed a key file with only its own
key (``intentgate memory writer-key``). Signing uses the pure-Python Ed25519 in ``ed25519.py``, which is
not constant-time: sign on trusted hosts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import ed25519
from ._bytes import decode_base64url, encode_base64url, is_safe_integer, is_well_formed, js_length
from .jcs import canonicalize
from .keys import KEY_ID_PATTERN, TokenKeys, hkdf_sha256

MEMORY_SIGNING_CONTEXT = "intentgate.memory-item.v1"
WRITER_KEY_SALT = "intentgate.memory-writer.v1"
WRITER_KEY_FILE_KIND = "intentgate.memory-writer-key"
MEMORY_ID_MAX = 256
MEMORY_TENANT_MAX = 256
MEMORY_WRITER_PATTERN = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SIGNED_FIELDS = ("id", "tenant", "writer", "content_sha256", "written_at", "expires_at", "kid", "signature")

MemoryItem = dict[str, Any]


class MemoryKeyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def content_sha256(content: str) -> str:
    """Lowercase hex SHA-256 of the content's UTF-8 bytes: what an item's ``content_sha256`` holds."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def derive_writer_seed(tenant_key: bytes, writer: str) -> bytes:
    if not isinstance(writer, str) or MEMORY_WRITER_PATTERN.fullmatch(writer) is None:
        raise MemoryKeyError("bad_writer", f'writer "{writer}" must be 1-128 of A-Z a-z 0-9 . _ : @ / -')
    return hkdf_sha256(tenant_key, WRITER_KEY_SALT.encode(), writer.encode("utf-8"), 32)


def unsigned_part(item: MemoryItem) -> MemoryItem:
    """The signed record of an item: the spec's members but ``signature`` (and never ``content``)."""
    return {k: item[k] for k in _SIGNED_FIELDS if k != "signature" and k in item}


def memory_signing_bytes(unsigned: MemoryItem) -> bytes:
    """The bytes a writer signs: the context string, a line feed, then the JCS of the record."""
    return f"{MEMORY_SIGNING_CONTEXT}\n{canonicalize(unsigned)}".encode("utf-8")


def _is_text(v: Any, limit: int) -> bool:
    return isinstance(v, str) and 0 < js_length(v) <= limit and is_well_formed(v)


_RULES: dict[str, Callable[[Any], bool]] = {
    "id": lambda v: _is_text(v, MEMORY_ID_MAX),
    "tenant": lambda v: _is_text(v, MEMORY_TENANT_MAX),
    "writer": lambda v: isinstance(v, str) and MEMORY_WRITER_PATTERN.fullmatch(v) is not None,
    "content_sha256": lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None,
    "written_at": lambda v: is_safe_integer(v) and v >= 0,
    "expires_at": lambda v: is_safe_integer(v) and v >= 0,
    "kid": lambda v: isinstance(v, str) and KEY_ID_PATTERN.fullmatch(v) is not None,
    "signature": lambda v: isinstance(v, str) and (lambda b: b is not None and len(b) == 64)(decode_base64url(v)),
}


def memory_item_problem(value: Any, presented: bool) -> str | None:
    """Why a value is not a well-formed item (with ``presented``, a record plus its ``content``), or None."""
    if not isinstance(value, dict):
        return "is not an object"
    for name, valid in _RULES.items():
        if name not in value:
            if name == "expires_at":
                continue
            return f'has no "{name}"'
        if not valid(value[name]):
            return f'has an invalid "{name}"'
    for name in value:
        if name in _RULES or (presented and name == "content"):
            continue
        return f'has an unknown member "{name}"'
    if presented and (not isinstance(value.get("content"), str) or not is_well_formed(value["content"])):
        return 'has no string "content"'
    if "expires_at" in value and value["expires_at"] <= value["written_at"]:
        return "expires before it was written"
    return None


class MemoryWriter:
    """One writer's key under one kid: it signs memory items when it holds the seed."""

    def __init__(self, tenant: str, writer: str, kid: str, public_key: bytes, seed: bytes | None) -> None:
        self.tenant, self.writer, self.kid, self.public_key = tenant, writer, kid, public_key
        self._seed = seed

    @classmethod
    def from_keys(cls, keys: TokenKeys, tenant: str, writer: str, kid: str | None = None) -> MemoryWriter:
        """Derives a writer's key from token keys (master or tenant-scoped); ``kid`` defaults to the active one."""
        kid = kid if kid is not None else keys.active_kid
        seed = derive_writer_seed(keys.tenant_key(kid, tenant), writer)
        return cls(tenant, writer, kid, ed25519.public_key(seed), seed)

    @classmethod
    def from_file(cls, value: Any) -> MemoryWriter:
        """Reads a writer key file; a public-only file can verify but not sign."""

        def fail(message: str) -> MemoryKeyError:
            return MemoryKeyError("bad_writer_key_file", message)

        if not isinstance(value, dict):
            raise fail("writer key file must be a JSON object")
        if value.get("version") != 1 or isinstance(value.get("version"), bool) or value.get("kind") != WRITER_KEY_FILE_KIND:
            raise fail(f'writer key file needs version 1 and kind "{WRITER_KEY_FILE_KIND}"')
        tenant, writer, kid = value.get("tenant"), value.get("writer"), value.get("kid")
        if not isinstance(tenant, str) or not 0 < js_length(tenant) <= MEMORY_TENANT_MAX:
            raise fail("writer key file: tenant is invalid")
        if not isinstance(writer, str) or MEMORY_WRITER_PATTERN.fullmatch(writer) is None:
            raise fail("writer key file: writer is invalid")
        if not isinstance(kid, str) or KEY_ID_PATTERN.fullmatch(kid) is None:
            raise fail("writer key file: kid is invalid")
        public = decode_base64url(value["public_key"]) if isinstance(value.get("public_key"), str) else None
        if public is None or len(public) != 32:
            raise fail("writer key file: public_key must be 32 bytes of base64url")
        seed = None
        if "private_key" in value:
            seed = decode_base64url(value["private_key"]) if isinstance(value["private_key"], str) else None
            if seed is None or len(seed) != 32:
                raise fail("writer key file: private_key must be 32 bytes of base64url")
            if ed25519.public_key(seed) != public:
                raise fail("writer key file: public_key does not belong to private_key")
        return cls(tenant, writer, kid, public, seed)

    @property
    def can_sign(self) -> bool:
        return self._seed is not None

    def sign(self, *, id: str, content: str, written_at: int, expires_at: int | None = None) -> MemoryItem:
        """Builds and signs the record for one memory entry. The content itself is hashed, never kept."""
        if self._seed is None:
            raise MemoryKeyError("bad_writer_key_file", f'the key of writer "{self.writer}" is public only: it cannot sign')
        unsigned: MemoryItem = {
            "id": id,
            "tenant": self.tenant,
            "writer": self.writer,
            "content_sha256": content_sha256(content),
            "written_at": written_at,
            "kid": self.kid,
        }
        if expires_at is not None:
            unsigned["expires_at"] = expires_at
        problem = memory_item_problem({**unsigned, "signature": "A" * 86}, False)
        if problem is not None:
            raise ValueError(f"cannot sign memory item: {problem}")
        signature = encode_base64url(ed25519.sign(self._seed, memory_signing_bytes(unsigned)))
        return {**unsigned, "signature": signature}

    def to_file(self, include_private: bool) -> dict[str, Any]:
        file: dict[str, Any] = {
            "version": 1,
            "kind": WRITER_KEY_FILE_KIND,
            "tenant": self.tenant,
            "writer": self.writer,
            "kid": self.kid,
            "public_key": encode_base64url(self.public_key),
        }
        if include_private:
            if self._seed is None:
                raise MemoryKeyError("bad_writer_key_file", f'the key of writer "{self.writer}" is public only')
            file["private_key"] = encode_base64url(self._seed)
        return file


def present(item: MemoryItem, content: str) -> MemoryItem:
    """What an agent presents on a call: the signed record plus the content it read."""
    return {**item, "content": content}


@dataclass(frozen=True)
class MemoryItemResult:
    ok: bool
    id: str
    writer: str | None
    code: str | None = None
    message: str | None = None


def verify_memory_item(
    value: Any,
    *,
    tenant: str,
    now: int,
    skew_seconds: int,
    public_key: Callable[[str, str, str], bytes | None],
    writers: Sequence[str] | None = None,
    max_age_seconds: int | None = None,
    max_content_bytes: int | None = None,
) -> MemoryItemResult:
    """Verifies one presented item as the gateway's memory check does, with the same codes. Never raises for bad input."""
    record = value if isinstance(value, dict) else None
    raw_id = record.get("id") if record else None
    item_id = raw_id if isinstance(raw_id, str) and 0 < js_length(raw_id) <= MEMORY_ID_MAX and is_well_formed(raw_id) else "?"
    raw_writer = record.get("writer") if record else None
    writer = raw_writer if isinstance(raw_writer, str) and MEMORY_WRITER_PATTERN.fullmatch(raw_writer) else None

    def fail(code: str, message: str) -> MemoryItemResult:
        return MemoryItemResult(False, item_id, writer, code, message)

    if record is None:
        return fail("memory_malformed", "is not an object")
    if record.get("signature") in (None, ""):
        return fail("memory_unsigned", "carries no signature")
    problem = memory_item_problem(record, True)
    if problem is not None:
        return fail("memory_malformed", problem)
    if record["tenant"] != tenant:
        return fail("memory_foreign_tenant", f'belongs to tenant "{record["tenant"]}", not "{tenant}"')
    if writers is not None and record["writer"] not in writers:
        return fail("memory_untrusted_writer", f'was written by "{record["writer"]}", which is not a trusted writer')
    if max_content_bytes is not None and len(record["content"].encode("utf-8")) > max_content_bytes:
        return fail("memory_malformed", f"has content larger than {max_content_bytes} bytes")
    key = public_key(record["kid"], record["tenant"], record["writer"])
    if key is None:
        return fail("memory_unknown_key", f'is signed under key "{record["kid"]}", which this verifier does not have for this tenant and writer')
    if content_sha256(record["content"]) != record["content_sha256"]:
        return fail("memory_altered", "was presented with other content than the content that was signed")
    signature = decode_base64url(record["signature"]) or b""
    if not ed25519.verify(key, memory_signing_bytes(unsigned_part(record)), signature):
        return fail("memory_altered", f"has a signature that does not verify (the record was changed, or {record['writer']} never signed it)")
    if record["written_at"] > now + skew_seconds:
        return fail("memory_not_yet_valid", "is dated in the future")
    if "expires_at" in record and record["expires_at"] + skew_seconds <= now:
        return fail("memory_expired", "has expired")
    if max_age_seconds is not None and record["written_at"] + max_age_seconds + skew_seconds <= now:
        return fail("memory_expired", f"is older than the {max_age_seconds} s this tenant accepts")
    return MemoryItemResult(True, item_id, record["writer"])
