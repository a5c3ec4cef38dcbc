"""Helpers for the official MCP Python SDK (``mcp`` on PyPI), imported only when used.

``connect_sidecar(url, token)`` opens a streamable HTTP client session whose every request (POST, the
GET stream, DELETE) carries ``Authorization: Bearer <token>``; ``tool_call_meta`` builds the ``_meta``
of a ``tools/call`` (the user's prompt for prompt-bound tokens, and the memory items that shaped it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from mcp import ClientSession

PROMPT_META_KEY = "dev.intentgate/prompt"
MEMORY_META_KEY = "dev.intentgate/memory"
DECISION_META_KEY = "dev.intentgate/decision"


def sidecar_headers(token: str) -> dict[str, str]:
    """The headers that present a capability token to the sidecar."""
    return {"Authorization": f"Bearer {token}"}


def sidecar_http_client(token: str, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client with the MCP SDK's recommended timeouts that presents the token on every request."""
    from mcp.shared._httpx_utils import create_mcp_http_client

    return create_mcp_http_client(headers=sidecar_headers(token), **kwargs)


@asynccontextmanager
async def connect_sidecar(url: str, token: str) -> AsyncIterator[ClientSession]:
    """An initialised MCP client session to a sidecar route (for example http://127.0.0.1:7070/mcp/files)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with sidecar_http_client(token) as http, streamable_http_client(url, http_client=http) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def tool_call_meta(*, prompt: str | None = None, memory: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``meta`` for ``ClientSession.call_tool``: the user's prompt and the presented memory items."""
    meta: dict[str, Any] = {}
    if prompt is not None:
        meta[PROMPT_META_KEY] = prompt
    if memory is not None:
        meta[MEMORY_META_KEY] = list(memory)
    return meta


@dataclass(frozen=True)
class Refusal:
    decision: str
    code: str
    reason: str
    decision_id: str


def refusal_of(result: Any) -> Refusal | None:
    """The sidecar's refusal carried by a ``tools/call`` result (an MCP ``CallToolResult`` or a dict), or None."""
    meta = result.get("_meta") if isinstance(result, dict) else getattr(result, "meta", None)
    decision = meta.get(DECISION_META_KEY) if isinstance(meta, dict) else None
    if not isinstance(decision, dict) or decision.get("decision") not in ("block", "escalate") or not isinstance(decision.get("code"), str):
        return None
    return Refusal(decision["decision"], decision["code"], str(decision.get("reason", "")), str(decision.get("decision_id", "")))
