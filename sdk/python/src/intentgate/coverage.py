"""Coverage: do a verified token's effective constraints allow this particular tool call?

Mirrors the TypeScript SDK's token/coverage.ts, glob.ts, json-pointer.ts and token/path.ts.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

from .jcs import CanonicalizationError, canonicalize

_MISSING = object()


@dataclass(frozen=True)
class CoverageResult:
    ok: bool
    code: str | None = None
    message: str | None = None


_OK = CoverageResult(True)


def prompt_sha256(prompt: str) -> str:
    """Lowercase hex SHA-256 of the prompt's UTF-8 bytes: what a ``prompt`` caveat holds."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def glob_matches(glob: str, name: str) -> bool:
    """``*`` matches any run of characters (dots included); every other character matches itself."""
    pattern = ".*".join(re.escape(part) for part in glob.split("*"))
    return re.fullmatch(pattern, name, re.DOTALL) is not None


def _any_glob(globs: list[str], name: str) -> bool:
    return any(glob_matches(g, name) for g in globs)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup; returns the module's missing marker when nothing is there."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return _MISSING
    current = document
    for raw in pointer[1:].split("/"):
        if re.search(r"~[^01]|~$", raw):
            return _MISSING
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            if re.fullmatch(r"0|[1-9][0-9]*", token) is None or int(token) >= len(current):
                return _MISSING
            current = current[int(token)]
        elif isinstance(current, dict) and token in current:
            current = current[token]
        else:
            return _MISSING
    return current


def _normalize_absolute(path: str) -> str:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return "/" + "/".join(out)


def is_under(actual: Any, prefix: str) -> bool:
    """True when a path, after resolving ``.``, ``..`` and repeated slashes, is the prefix or inside it."""
    if not isinstance(actual, str) or not actual.startswith("/") or "\0" in actual:
        return False
    path, base = _normalize_absolute(actual), _normalize_absolute(prefix)
    return base == "/" or path == base or path.startswith(base + "/")


def check_tool_scope(e: dict[str, Any], server: str, tool: str, agent: str) -> CoverageResult:
    for bound in e["agents"]:
        if bound != agent:
            return CoverageResult(False, "agent_mismatch", f'token is bound to agent "{bound}", not "{agent}"')
    for servers in e["servers"]:
        if server not in servers:
            return CoverageResult(False, "server_not_allowed", f'token does not cover server "{server}"')
    name = f"{server}.{tool}"
    for allow in e["toolAllow"]:
        if not _any_glob(allow, name):
            return CoverageResult(False, "tool_not_allowed", f'token does not cover tool "{name}"')
    if _any_glob(e["toolDeny"], name):
        return CoverageResult(False, "tool_denied", f'token denies tool "{name}"')
    return _OK


def check_coverage(e: dict[str, Any], *, server: str, tool: str, arguments: Any, agent: str, prompt: str | None = None) -> CoverageResult:
    """Whether verified constraints (``VerifyResult.effective``) cover a call."""
    scope = check_tool_scope(e, server, tool, agent)
    if not scope.ok:
        return scope
    name = f"{server}.{tool}"
    for constraint in e["args"]:
        if "tools" in constraint and not _any_glob(constraint["tools"], name):
            continue
        problem = _argument_problem(constraint, arguments)
        if problem is not None:
            return CoverageResult(False, "argument_violation", problem)
    if e["promptSha256"]:
        if prompt is None:
            return CoverageResult(False, "prompt_missing", "token is bound to a prompt and none was presented")
        digest = prompt_sha256(prompt)
        for expected in e["promptSha256"]:
            if expected != digest:
                return CoverageResult(False, "prompt_mismatch", "presented prompt does not match the token's prompt binding")
    return _OK


def _same_json(a: Any, b: Any) -> bool:
    try:
        return canonicalize(a) == canonicalize(b)
    except CanonicalizationError:
        return False


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _compare(op: str, actual: Any, limit: float) -> bool:
    if not _is_number(actual):
        return False
    if op == "lt":
        return bool(actual < limit)
    if op == "le":
        return bool(actual <= limit)
    if op == "gt":
        return bool(actual > limit)
    return bool(actual >= limit)


def _argument_problem(c: dict[str, Any], args: Any) -> str | None:
    actual = resolve_pointer(args, c["path"])
    where = f"argument {c['path']}"
    if actual is _MISSING:
        return f"{where} is missing; the token constrains it"
    op, expected = c["op"], c["value"]
    if op == "eq":
        return None if _same_json(actual, expected) else f"{where} must equal {canonicalize(expected)}"
    if op == "ne":
        return f"{where} must not equal {canonicalize(expected)}" if _same_json(actual, expected) else None
    if op == "in":
        return None if any(_same_json(actual, v) for v in expected) else f"{where} must be one of {canonicalize(expected)}"
    if op == "not_in":
        return f"{where} must not be one of {canonicalize(expected)}" if any(_same_json(actual, v) for v in expected) else None
    if op in ("lt", "le", "gt", "ge"):
        return None if _compare(op, actual, expected) else f"{where} must be {op} {expected}"
    if op == "under":
        return None if is_under(actual, expected) else f"{where} must be a path under {expected}"
    return f"{where}: unknown operator {op}"
