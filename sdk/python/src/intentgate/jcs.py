"""RFC 8785 JSON Canonicalization Scheme: the bytes every signature and hash covers.

Numbers are written as ECMAScript's Number#toString writes them, object members are sorted by UTF-16
code units, and strings are escaped minimally, so the output is byte for byte what the TypeScript
implementation (and any other RFC 8785 implementation) writes.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from ._bytes import is_well_formed


class CanonicalizationError(ValueError):
    code = "not_canonicalizable"


def canonicalize(value: Any) -> str:
    """Returns the JCS text of a JSON value (dict, list, str, int, float, bool, None)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonicalize(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError("object keys must be strings")
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))  # UTF-16 code unit order
        return "{" + ",".join(f"{_string(k)}:{canonicalize(value[k])}" for k in keys) + "}"
    raise CanonicalizationError(f"a {type(value).__name__} is not JSON")


def canonical_bytes(value: Any) -> bytes:
    return canonicalize(value).encode("utf-8")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    if not is_well_formed(text):
        raise CanonicalizationError("string contains a lone surrogate")
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: int | float) -> str:
    if isinstance(value, int):
        if abs(value) < 2**53:
            return str(value)
        # JSON numbers are IEEE 754 doubles (I-JSON): a larger integer means the nearest double, as in JSON.parse.
        try:
            value = float(value)
        except OverflowError:
            raise CanonicalizationError("number is not finite") from None
    if not math.isfinite(value):
        raise CanonicalizationError("number is not finite")
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, which is what ECMAScript's algorithm picks.
    _, digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    exponent = int(exponent) + (len(digits_tuple) - len(digits))
    k = len(digits)
    n = exponent + k  # the value is 0.<digits> x 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
