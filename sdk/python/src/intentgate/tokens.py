"""Capability tokens: mint, attenuate, bind a prompt, inspect and verify (docs/spec/capability-token.md).

``igt1.`` + base64url(JCS(header)) + ``.`` + base64url(JCS(caveat)) ... + ``.`` + base64url(tag), where
tag0 = HMAC-SHA256(tenant key, header bytes) and tagN = HMAC-SHA256(tagN-1, caveat N bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._bytes import decode_base64url, encode_base64url, is_safe_integer, js_length
from .caveats import Caveat, caveat_problem
from .coverage import prompt_sha256
from .jcs import canonical_bytes, canonicalize
from .keys import KEY_ID_PATTERN, TokenKeyError, TokenKeys

TOKEN_PREFIX = "igt1"
TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 16_384
MAX_CAVEATS = 64
TAG_BYTES = 32
DEFAULT_SKEW_SECONDS = 30
MAX_SKEW_SECONDS = 300

_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_HEADER_FIELDS = ("version", "kid", "id", "issuer", "tenant", "subject", "issued_at")


class TokenError(Exception):
    """A token that cannot be built or read; ``code`` is stable (malformed, invalid_caveat, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DecodedToken:
    header: dict[str, Any]
    caveats: list[Any]
    segments: list[bytes]
    tag: bytes


def new_token_id() -> str:
    """A fresh 128-bit id (base64url) for a token or a hop."""
    return encode_base64url(secrets.token_bytes(16))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _chain(key: bytes, segments: Sequence[bytes]) -> bytes:
    tag = key
    for segment in segments:
        tag = _hmac(tag, segment)
    return tag


def _encode(segments: Sequence[bytes], tag: bytes) -> str:
    return ".".join([TOKEN_PREFIX, *(encode_base64url(s) for s in segments), encode_base64url(tag)])


def decode_token(text: str) -> DecodedToken:
    """Parses a token without any key: structure, canonical form and header. Raises TokenError."""
    if not isinstance(text, str) or not text:
        raise TokenError("malformed", "token is empty")
    if len(text) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed", f"token is longer than {MAX_TOKEN_LENGTH} characters")
    parts = text.split(".")
    if parts[0] != TOKEN_PREFIX:
        if re.fullmatch(r"igt[0-9]+", parts[0]):
            raise TokenError("unsupported_version", f'token version "{parts[0]}" is not supported')
        raise TokenError("malformed", f'token does not start with "{TOKEN_PREFIX}."')
    if len(parts) < 3:
        raise TokenError("malformed", "token has no header or no tag")
    if len(parts) - 3 > MAX_CAVEATS:
        raise TokenError("malformed", f"token has more than {MAX_CAVEATS} caveats")
    tag = decode_base64url(parts[-1])
    if tag is None or len(tag) != TAG_BYTES:
        raise TokenError("malformed", "token tag is not 32 bytes of base64url")
    segments: list[bytes] = []
    values: list[Any] = []
    for i, part in enumerate(parts[1:-1], start=1):
        data = decode_base64url(part)
        if data is None:
            raise TokenError("malformed", f"segment {i} is not base64url")
        ok, value = _parse_canonical(data)
        if not ok:
            raise TokenError("malformed", f"segment {i} is not canonical JSON (RFC 8785)")
        segments.append(data)
        values.append(value)
    header = values[0]
    problem = _header_problem(header)
    if problem is not None:
        version = header.get("version") if isinstance(header, dict) else None
        if isinstance(version, (int, float)) and not isinstance(version, bool) and version != TOKEN_VERSION:
            raise TokenError("unsupported_version", f"token header version {version} is not supported")
        raise TokenError("malformed", problem)
    return DecodedToken(header, values[1:], segments, tag)


def _parse_canonical(data: bytes) -> tuple[bool, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
        # Re-serialising catches duplicate keys, whitespace, escapes, number spellings and bad UTF-8 at once.
        return (canonical_bytes(value) == data and value is not None), value
    except (ValueError, RecursionError):
        return False, None


def _header_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "token header is not an object"
    for key in value:
        if key not in _HEADER_FIELDS:
            return f'token header has an unknown field "{key}"'
    version = value.get("version")
    if isinstance(version, bool) or version != TOKEN_VERSION:
        return "token header version is not 1"
    kid = value.get("kid")
    if not isinstance(kid, str) or KEY_ID_PATTERN.fullmatch(kid) is None:
        return "token header kid is invalid"
    if not isinstance(value.get("id"), str) or _ID.fullmatch(value["id"]) is None:
        return "token header id is invalid"
    for name in ("issuer", "tenant", "subject"):
        v = value.get(name)
        if not isinstance(v, str) or not 0 < js_length(v) <= 256:
            return f"token header {name} is invalid"
    if not is_safe_integer(value.get("issued_at")) or value["issued_at"] < 0:
        return "token header issued_at is invalid"
    return None


def _checked(caveats: Sequence[Caveat], action: str) -> list[Caveat]:
    out = []
    for i, caveat in enumerate(caveats):
        problem = caveat_problem(caveat)
        if problem is not None:
            raise TokenError("invalid_caveat", f"caveat {i}: {problem}")
        if caveat["type"] == "hop":
            raise TokenError("invalid_caveat", f"caveat {i}: hop caveats are added by attenuate, not by {action}")
        out.append(caveat)
    return out


def mint_token(
    keys: TokenKeys,
    *,
    tenant: str,
    subject: str,
    issued_at: int,
    caveats: Sequence[Caveat] = (),
    issuer: str = "intentgate",
    id: str | None = None,
    kid: str | None = None,
) -> str:
    """Mints a token with the tenant's key (``kid`` defaults to the key file's active key)."""
    header = {
        "version": TOKEN_VERSION,
        "kid": kid if kid is not None else keys.active_kid,
        "id": id if id is not None else new_token_id(),
        "issuer": issuer,
        "tenant": tenant,
        "subject": subject,
        "issued_at": issued_at,
    }
    checked = _checked(caveats, "mint")
    if len(checked) > MAX_CAVEATS:
        raise TokenError("too_many_caveats", f"at most {MAX_CAVEATS} caveats")
    segments = [canonical_bytes(header), *(canonical_bytes(c) for c in checked)]
    token = _encode(segments, _chain(keys.tenant_key(header["kid"], tenant), segments))
    decode_token(token)  # a header that could never verify is refused now, not at the first call
    return token


def attenuate_token(token: str, caveats: Sequence[Caveat], *, hop_id: str | None = None) -> str:
    """Appends one hop: a ``hop`` caveat with a fresh id, then the caveats. Needs no key, and can only narrow."""
    decoded = decode_token(token)
    hop: Caveat = {"type": "hop", "id": hop_id if hop_id is not None else new_token_id()}
    added = [canonical_bytes(c) for c in [hop, *_checked(caveats, "attenuate")]]
    if len(decoded.segments) - 1 + len(added) > MAX_CAVEATS:
        raise TokenError("too_many_caveats", f"at most {MAX_CAVEATS} caveats")
    result = _encode([*decoded.segments, *added], _chain(decoded.tag, added))
    if len(result) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed", f"token would be longer than {MAX_TOKEN_LENGTH} characters")
    return result


def bind_prompt(token: str, prompt: str, caveats: Sequence[Caveat] = (), *, hop_id: str | None = None) -> str:
    """Attenuates a token so that it is only good with this exact user prompt (a ``prompt`` caveat)."""
    return attenuate_token(token, [{"type": "prompt", "sha256": prompt_sha256(prompt)}, *caveats], hop_id=hop_id)


def revocation_ids(token: str) -> list[str]:
    """The ids a revocation can name for this token: its own id, then each hop's, root first."""
    decoded = decode_token(token)
    return [decoded.header["id"], *(c["id"] for c in decoded.caveats if isinstance(c, dict) and c.get("type") == "hop")]


def fold_caveats(header: dict[str, Any], caveats: Sequence[Caveat]) -> dict[str, Any]:
    """The constraints that hold after every caveat, with the same member names as the TypeScript SDK."""
    e: dict[str, Any] = {
        "tenant": header["tenant"],
        "agents": [header["subject"]],
        "ids": [header["id"]],
        "expiresAt": None,
        "notBefore": None,
        "toolAllow": [],
        "toolDeny": [],
        "servers": [],
        "args": [],
        "promptSha256": [],
        "maxCalls": None,
        "budgets": [],
        "stepUp": False,
    }
    for c in caveats:
        kind = c["type"]
        if kind == "hop":
            e["ids"].append(c["id"])
        elif kind == "expires":
            e["expiresAt"] = c["at"] if e["expiresAt"] is None else min(e["expiresAt"], c["at"])
        elif kind == "not_before":
            e["notBefore"] = c["at"] if e["notBefore"] is None else max(e["notBefore"], c["at"])
        elif kind == "tools":
            e["toolAllow"].append(c["allow"])
        elif kind == "tools_deny":
            e["toolDeny"].extend(c["deny"])
        elif kind == "servers":
            e["servers"].append(c["allow"])
        elif kind == "agent":
            if c["id"] not in e["agents"]:
                e["agents"].append(c["id"])
        elif kind == "arg":
            arg = {"path": c["path"], "op": c["op"], "value": c["value"]}
            e["args"].append({"tools": c["tools"], **arg} if "tools" in c else arg)
        elif kind == "prompt":
            if c["sha256"] not in e["promptSha256"]:
                e["promptSha256"].append(c["sha256"])
        elif kind == "calls":
            e["maxCalls"] = c["max"] if e["maxCalls"] is None else min(e["maxCalls"], c["max"])
            e["budgets"].append({"kind": "calls", "max": c["max"], "window": None, "scope": e["ids"][-1]})
        elif kind in ("rate", "cost"):
            e["budgets"].append({"kind": kind, "max": c["max"], "window": c["window"], "scope": e["ids"][-1]})
        elif kind == "step_up":
            e["stepUp"] = True
    return e


@dataclass(frozen=True)
class Inspection:
    header: dict[str, Any]
    caveats: list[Caveat]
    effective: dict[str, Any]
    revocation_ids: list[str] = field(default_factory=list)


def inspect_token(token: str) -> Inspection:
    """Reads a token without any key: what it claims. Nothing here proves the signature (see verify_token)."""
    decoded = decode_token(token)
    for i, caveat in enumerate(decoded.caveats):
        problem = caveat_problem(caveat)
        if problem is not None:
            raise TokenError("invalid_caveat", f"caveat {i + 1}: {problem}")
    effective = fold_caveats(decoded.header, decoded.caveats)
    return Inspection(decoded.header, decoded.caveats, effective, list(effective["ids"]))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    code: str | None = None
    message: str | None = None
    header: dict[str, Any] | None = None
    effective: dict[str, Any] | None = None


def _fail(code: str, message: str) -> VerifyResult:
    return VerifyResult(False, code, message)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verify_token(
    token: str,
    *,
    keys: TokenKeys,
    now: int,
    skew_seconds: float = DEFAULT_SKEW_SECONDS,
    is_revoked: Callable[[list[str]], bool] | None = None,
) -> VerifyResult:
    """Verifies as the gateway does: structure, key, signature, caveats, time, then revocation.

    ``is_revoked`` answers whether any of the token's ids is revoked; raising means the state cannot be
    trusted, which refuses the token (``revocation_unavailable``).
    """
    try:
        decoded = decode_token(token)
    except TokenError as error:
        return _fail(error.code, str(error))
    header = decoded.header
    try:
        key = keys.tenant_key(header["kid"], header["tenant"])
    except TokenKeyError as error:
        return _fail(error.code, str(error))
    if not hmac.compare_digest(_chain(key, decoded.segments), decoded.tag):
        return _fail("bad_signature", "token signature does not verify")
    for i, caveat in enumerate(decoded.caveats):
        problem = caveat_problem(caveat)
        if problem is not None:
            return _fail("invalid_caveat", f"caveat {i + 1}: {problem}")
    e = fold_caveats(header, decoded.caveats)
    skew = 0.0 if math.isnan(skew_seconds) else min(max(skew_seconds, 0), MAX_SKEW_SECONDS)
    if e["expiresAt"] is not None and now > e["expiresAt"] + skew:
        return _fail("expired", f"token expired at {_iso(e['expiresAt'])}")
    not_before = max(e["notBefore"] or 0, header["issued_at"])
    if now < not_before - skew:
        return _fail("not_yet_valid", f"token is not valid before {_iso(not_before)}")
    if is_revoked is not None:
        try:
            revoked = is_revoked(list(e["ids"]))
        except Exception as error:  # any failure to read revocation state refuses the token
            return _fail("revocation_unavailable", f"revocation state cannot be read: {error}")
        if revoked:
            return _fail("revoked", "token or one of its hops has been revoked")
    return VerifyResult(True, header=header, effective=e)
