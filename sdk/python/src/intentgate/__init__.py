"""IntentGate SDK: capability tokens, signed memory items and MCP client helpers. Standard library only."""

from .caveats import ARG_OPS, Caveat, caveat_problem
from .coverage import CoverageResult, check_coverage, check_tool_scope, prompt_sha256
from .jcs import CanonicalizationError, canonical_bytes, canonicalize
from .keys import TokenKeyError, TokenKeys, derive_tenant_key, hkdf_sha256
from .memory import (
    MemoryItemResult,
    MemoryKeyError,
    MemoryWriter,
    content_sha256,
    derive_writer_seed,
    memory_signing_bytes,
    present,
    verify_memory_item,
)
from .tokens import (
    DecodedToken,
    Inspection,
    TokenError,
    VerifyResult,
    attenuate_token,
    bind_prompt,
    decode_token,
    fold_caveats,
    inspect_token,
    mint_token,
    new_token_id,
    revocation_ids,
    verify_token,
)

__all__ = [
    "ARG_OPS",
    "CanonicalizationError",
    "Caveat",
    "CoverageResult",
    "DecodedToken",
    "Inspection",
    "MemoryItemResult",
    "MemoryKeyError",
    "MemoryWriter",
    "TokenError",
    "TokenKeyError",
    "TokenKeys",
    "VerifyResult",
    "attenuate_token",
    "bind_prompt",
    "canonical_bytes",
    "canonicalize",
    "caveat_problem",
    "check_coverage",
    "check_tool_scope",
    "content_sha256",
    "decode_token",
    "derive_tenant_key",
    "derive_writer_seed",
    "fold_caveats",
    "hkdf_sha256",
    "inspect_token",
    "memory_signing_bytes",
    "mint_token",
    "new_token_id",
    "present",
    "prompt_sha256",
    "revocation_ids",
    "verify_memory_item",
    "verify_token",
]
