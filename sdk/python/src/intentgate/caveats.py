"""Caveat types and their validation. Each caveat only narrows what a token allows.

A caveat whose type or fields are not exactly one of these makes the whole token invalid
(docs/spec/capability-token.md); the rules mirror the TypeScript SDK's token/caveats.ts.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ._bytes import is_finite_number, is_safe_integer, js_length
from .jcs import CanonicalizationError, canonicalize

ARG_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "under")

Caveat = dict[str, Any]
_Rule = Callable[[Any], bool]

_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_id(v: Any) -> bool:
    return isinstance(v, str) and _ID.fullmatch(v) is not None


def _is_time(v: Any) -> bool:
    return is_safe_integer(v) and v >= 0


def _is_window(v: Any) -> bool:
    return is_safe_integer(v) and v > 0


def _is_name(v: Any) -> bool:
    return isinstance(v, str) and 0 < js_length(v) <= 256


def _is_name_list(v: Any) -> bool:
    return isinstance(v, list) and 0 < len(v) <= 256 and all(_is_name(x) for x in v)


def _is_pointer(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("/") and js_length(v) <= 512


def _is_json(v: Any) -> bool:
    # The value is signed as canonical JSON, so it must be JSON that RFC 8785 can write.
    try:
        canonicalize(v)
    except CanonicalizationError:
        return False
    return True


def _is_cost(v: Any) -> bool:
    return is_finite_number(v) and v >= 0


_SCHEMAS: dict[str, tuple[dict[str, _Rule], dict[str, _Rule]]] = {
    "hop": ({"id": _is_id}, {}),
    "expires": ({"at": _is_time}, {}),
    "not_before": ({"at": _is_time}, {}),
    "tools": ({"allow": _is_name_list}, {}),
    "tools_deny": ({"deny": _is_name_list}, {}),
    "servers": ({"allow": _is_name_list}, {}),
    "agent": ({"id": _is_name}, {}),
    "arg": ({"path": _is_pointer, "op": lambda v: isinstance(v, str) and v in ARG_OPS, "value": _is_json}, {"tools": _is_name_list}),
    "prompt": ({"sha256": lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None}, {}),
    "calls": ({"max": _is_time}, {}),
    "rate": ({"max": _is_time, "window": _is_window}, {}),
    "cost": ({"max": _is_cost, "window": _is_window}, {}),
    "step_up": ({}, {}),
}


def caveat_problem(value: Any) -> str | None:
    """Why a value is not a valid caveat, or None when it is one."""
    if not isinstance(value, dict):
        return "caveat is not an object"
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in _SCHEMAS:
        return f"unknown caveat type {canonicalize(kind) if _is_json(kind) else kind!r}"
    required, optional = _SCHEMAS[kind]
    for field, rule in required.items():
        if field not in value or not rule(value[field]):
            return f'{kind} caveat has a missing or invalid "{field}"'
    for field in value:
        if field == "type" or field in required:
            continue
        rule = optional.get(field)
        if rule is None:
            return f'{kind} caveat has an unknown field "{field}"'
        if not rule(value[field]):
            return f'{kind} caveat has an invalid "{field}"'
    if kind == "arg":
        return _arg_problem(value["op"], value["value"])
    return None


def _arg_problem(op: str, value: Any) -> str | None:
    if op in ("lt", "le", "gt", "ge"):
        return None if is_finite_number(value) else f'arg caveat "{op}" needs a finite number'
    if op in ("in", "not_in"):
        return None if isinstance(value, list) and value else f'arg caveat "{op}" needs a non-empty array'
    if op == "under":
        return None if isinstance(value, str) and value.startswith("/") else 'arg caveat "under" needs an absolute path'
    return None
