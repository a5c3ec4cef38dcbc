// Wire contracts shared by the sidecar, the controller and the CLI. Imports nothing else of ours.
export { canonicalize, canonicalBytes, CanonicalizationError } from "./jcs.ts";
export { encodeBase64url, decodeBase64url } from "./base64url.ts";
export { globMatches, anyGlobMatches } from "./glob.ts";
export { resolvePointer } from "./json-pointer.ts";
export { parseDurationSeconds } from "./duration.ts";
export { KeyRing, KeyError, deriveTenantSecret, newKeyId, newMasterEntry, type KeyFile, type KeyFileEntry } from "./keys.ts";
export { ARG_OPS, caveatProblem, type ArgOp, type Caveat, type CaveatType } from "./token/caveats.ts";
export { decodeToken, TOKEN_PREFIX, type DecodedToken, type TokenHeader } from "./token/codec.ts";
export { mintToken, attenuateToken, revocationIds, newTokenId, TokenBuildError, type MintOptions } from "./token/mint.ts";
export {
  verifyToken,
  verifySignature,
  checkLiveness,
  DEFAULT_SKEW_SECONDS,
  MAX_SKEW_SECONDS,
  type RevocationLookup,
  type TokenErrorCode,
  type VerifyOptions,
  type VerifyResult,
} from "./token/verify.ts";
export { foldCaveats, type EffectiveConstraints, type ArgConstraint, type BudgetCeiling } from "./token/effective.ts";
export { checkCoverage, checkToolScope, promptSha256, isUnder, type CoverageErrorCode, type CoverageResult, type ToolCall } from "./token/coverage.ts";
export { RevocationSet, RevocationFileError, parseRevocationFile, type RevocationEntry, type RevocationFile } from "./revocations.ts";
export {
  MEMORY_SIGNING_CONTEXT,
  contentSha256,
  memoryItemProblem,
  memorySigningBytes,
  type MemoryItem,
  type PresentedMemoryItem,
  type UnsignedMemoryItem,
} from "./memory/item.ts";
export {
  WriterKey,
  MemoryKeyError,
  WRITER_KEY_SALT,
  deriveWriterSeed,
  ringWriterKeys,
  type MemoryKeyLookup,
  type WriterKeyFile,
} from "./memory/keys.ts";
export { signMemoryItem, verifyMemoryItem, type MemoryErrorCode, type MemoryItemResult, type SignOptions, type VerifyMemoryOptions } from "./memory/verify.ts";
