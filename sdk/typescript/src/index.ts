// @intentgate/sdk: capability tokens (mint, attenuate, bind prompts, inspect, verify), signed memory
// items for trusted writers, and MCP client helpers. Zero dependencies; Web Crypto only.
export { encodeBase64url, decodeBase64url } from "./base64url.ts";
export { canonicalize, canonicalBytes, CanonicalizationError } from "./jcs.ts";
export { KeyError, KEY_ID_PATTERN, type KeyErrorCode, type KeyFile, type KeyFileEntry } from "./keys.ts";
export { ARG_OPS, caveatProblem, type ArgOp, type Caveat, type CaveatType } from "./token/caveats.ts";
export { decodeToken, TOKEN_PREFIX, MAX_CAVEATS, MAX_TOKEN_LENGTH, type DecodedToken, type DecodeResult, type TokenHeader } from "./token/codec.ts";
export { TokenBuildError, revocationIds, type MintOptions, type TokenBuildErrorCode, type TokenErrorCode, type VerifyResult } from "./token/build.ts";
export { DEFAULT_SKEW_SECONDS, MAX_SKEW_SECONDS, type RevocationLookup } from "./token/liveness.ts";
export { foldCaveats, type ArgConstraint, type BudgetCeiling, type EffectiveConstraints } from "./token/effective.ts";
export { type CoverageErrorCode, type CoverageResult, type ToolCall } from "./token/coverage.ts";
export {
  TokenKeys,
  attenuateToken,
  bindPrompt,
  checkCoverage,
  deriveTenantKey,
  inspectToken,
  mintToken,
  newTokenId,
  promptSha256,
  verifyToken,
  type Inspection,
  type VerifyOptions,
} from "./token/api.ts";
export { MEMORY_SIGNING_CONTEXT, memorySigningBytes, type MemoryItem, type PresentedMemoryItem, type UnsignedMemoryItem } from "./memory/item.ts";
export { type MemoryErrorCode, type MemoryItemResult } from "./memory/check.ts";
export {
  MemoryWriter,
  MemoryKeyError,
  WRITER_KEY_SALT,
  contentSha256,
  deriveWriterSeed,
  presentMemoryItem,
  verifyMemoryItem,
  type SignOptions,
  type VerifyMemoryOptions,
  type WriterKeyFile,
} from "./memory/writer.ts";
export { DECISION_META_KEY, MEMORY_META_KEY, PROMPT_META_KEY, refusalOf, sidecarTransportOptions, toolCallMeta, type Refusal, type SidecarTransportOptions } from "./mcp.ts";
