"""Key files, key ids and tenant keys.

A key file holds several live keys, each named by a key id (``kid``), so keys rotate without downtime:
mint with the active key, verify with any live one. A tenant's key is
HKDF-SHA256(master, "intentgate.tenant-key.v1", tenant).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Literal

from ._bytes import decode_base64url

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
TENANT_KEY_SALT = "intentgate.tenant-key.v1"
SECRET_BYTES = 32

KeyErrorCode = Literal["bad_key_file", "unknown_kid", "wrong_tenant"]


class TokenKeyError(Exception):
    """A key file problem, or no key for a kid and tenant. ``code`` is stable."""

    def __init__(self, code: KeyErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: KeyErrorCode = code


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869), from the standard library's hmac."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def derive_tenant_key(master: bytes, tenant: str) -> bytes:
    """The tenant's signing key under a master secret."""
    return hkdf_sha256(master, TENANT_KEY_SALT.encode(), tenant.encode("utf-8"), SECRET_BYTES)


@dataclass(frozen=True)
class _Key:
    kid: str
    scope: Literal["master", "tenant"]
    tenant: str | None
    secret: bytes


class TokenKeys:
    """The keys of a key file (``intentgate keys generate``, or a tenant's file from ``keys derive``)."""

    def __init__(self, active_kid: str, keys: list[_Key]) -> None:
        self.active_kid = active_kid
        self._keys = {k.kid: k for k in keys}
        self._derived: dict[tuple[str, str], bytes] = {}

    @classmethod
    def from_file(cls, file: Any) -> TokenKeys:
        """Validates a parsed key file; every problem is a TokenKeyError with code ``bad_key_file``."""

        def fail(message: str) -> TokenKeyError:
            return TokenKeyError("bad_key_file", message)

        if not isinstance(file, dict):
            raise fail("key file must be a JSON object")
        if file.get("version") != 1 or isinstance(file.get("version"), bool):
            raise fail("key file version must be 1")
        entries = file.get("keys")
        if not isinstance(entries, list) or not entries:
            raise fail("key file has no keys")
        keys: list[_Key] = []
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise fail(f"keys[{i}] must be an object")
            kid = entry.get("kid")
            if not isinstance(kid, str) or KEY_ID_PATTERN.fullmatch(kid) is None:
                raise fail(f"keys[{i}].kid is not a valid key id")
            if kid in seen:
                raise fail(f'keys[{i}].kid "{kid}" appears twice')
            secret = decode_base64url(entry["secret"]) if isinstance(entry.get("secret"), str) else None
            if secret is None or len(secret) != SECRET_BYTES:
                raise fail(f"keys[{i}].secret must be {SECRET_BYTES} bytes of base64url")
            scope, tenant = entry.get("scope"), entry.get("tenant")
            if scope == "master":
                keys.append(_Key(kid, "master", None, secret))
            elif scope == "tenant" and isinstance(tenant, str) and tenant:
                keys.append(_Key(kid, "tenant", tenant, secret))
            else:
                raise fail(f'keys[{i}].scope must be "master" or "tenant" with a tenant')
            seen.add(kid)
        active = file.get("active")
        if not isinstance(active, str) or active not in seen:
            raise fail("key file's active kid is not one of its keys")
        return cls(active, keys)

    def kids(self) -> list[str]:
        return list(self._keys)

    def tenant_key(self, kid: str, tenant: str) -> bytes:
        """The HMAC key for a tenant under a kid: the tenant key itself, or derived from the master key."""
        key = self._keys.get(kid)
        if key is None:
            raise TokenKeyError("unknown_kid", f'no live key has kid "{kid}"')
        if key.scope == "tenant":
            if key.tenant != tenant:
                raise TokenKeyError("wrong_tenant", f'key "{kid}" belongs to tenant "{key.tenant}", not "{tenant}"')
            return key.secret
        derived = self._derived.get((kid, tenant))
        if derived is None:
            derived = derive_tenant_key(key.secret, tenant)
            self._derived[(kid, tenant)] = derived
        return derived
