"""Strict unpadded base64url (RFC 4648 section 5) and JavaScript string lengths."""

from __future__ import annotations

import base64
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode_base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_base64url(text: str) -> bytes | None:
    """Decodes, or returns None when the text is not the one canonical spelling of some bytes."""
    if not isinstance(text, str) or _ALPHABET.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero trailing bits would decode to the same bytes as another spelling.
    if encode_base64url(data) != text:
        return None
    return data


def js_length(text: str) -> int:
    """Length in UTF-16 code units, as JavaScript's String#length counts: the limits in the specs use it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_well_formed(text: str) -> bool:
    """True when the text has no lone surrogate (it can be encoded as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_safe_integer(value: object) -> bool:
    """JavaScript's Number.isSafeInteger for a JSON value (booleans are not numbers)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= 2**53 - 1
    if isinstance(value, float):
        return value.is_integer() and abs(value) <= 2**53 - 1
    return False


def is_finite_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value == value and value not in (float("inf"), float("-inf"))
