// Coverage of a call by a verified token. The rules are the SDK's (sdk/typescript/src/token/coverage.ts);
// the gateway hashes the presented prompt with node:crypto, synchronously.
import { createHash } from "node:crypto";
import { checkCoverageHashed, type CoverageResult, type ToolCall } from "../../sdk/typescript/src/token/coverage.ts";
import type { EffectiveConstraints } from "./effective.ts";

export { checkToolScope, type CoverageErrorCode, type CoverageResult, type ToolCall } from "../../sdk/typescript/src/token/coverage.ts";
export { isUnder } from "../../sdk/typescript/src/token/path.ts";

export function promptSha256(prompt: string): string {
  return createHash("sha256").update(prompt, "utf8").digest("hex");
}

export function checkCoverage(e: EffectiveConstraints, call: ToolCall): CoverageResult {
  return checkCoverageHashed(e, call, call.prompt === undefined ? undefined : promptSha256(call.prompt));
}
