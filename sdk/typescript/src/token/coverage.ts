// Coverage: does a verified token's effective constraints allow this particular tool call? The prompt's
// SHA-256 is computed by the caller (sync in the gateway, Web Crypto in the SDK) and passed in.
import { anyGlobMatches } from "../glob.ts";
import { canonicalize } from "../jcs.ts";
import { resolvePointer } from "../json-pointer.ts";
import type { EffectiveConstraints, ArgConstraint } from "./effective.ts";
import { isUnder } from "./path.ts";

export type CoverageErrorCode =
  | "agent_mismatch"
  | "server_not_allowed"
  | "tool_not_allowed"
  | "tool_denied"
  | "argument_violation"
  | "prompt_missing"
  | "prompt_mismatch";

export interface ToolCall {
  server: string;
  tool: string;
  arguments: unknown;
  /** The identity of the agent presenting the token. */
  agent: string;
  /** The user prompt presented with the call, when there is one. */
  prompt?: string;
}

export type CoverageResult = { ok: true } | { ok: false; code: CoverageErrorCode; message: string };

const deny = (code: CoverageErrorCode, message: string): CoverageResult => ({ ok: false, code, message });

/** Agent, server and tool name only: what decides whether a tool is listed to the caller at all. */
export function checkToolScope(e: EffectiveConstraints, call: Pick<ToolCall, "server" | "tool" | "agent">): CoverageResult {
  for (const agent of e.agents) {
    if (agent !== call.agent) return deny("agent_mismatch", `token is bound to agent "${agent}", not "${call.agent}"`);
  }
  for (const servers of e.servers) {
    if (!servers.includes(call.server)) return deny("server_not_allowed", `token does not cover server "${call.server}"`);
  }
  const name = `${call.server}.${call.tool}`;
  for (const allow of e.toolAllow) {
    if (!anyGlobMatches(allow, name)) return deny("tool_not_allowed", `token does not cover tool "${name}"`);
  }
  if (anyGlobMatches(e.toolDeny, name)) return deny("tool_denied", `token denies tool "${name}"`);
  return { ok: true };
}

/** `promptHash` is the lowercase hex SHA-256 of `call.prompt`'s UTF-8 bytes (undefined when no prompt was presented). */
export function checkCoverageHashed(e: EffectiveConstraints, call: Omit<ToolCall, "prompt">, promptHash: string | undefined): CoverageResult {
  const scope = checkToolScope(e, call);
  if (!scope.ok) return scope;
  const name = `${call.server}.${call.tool}`;
  for (const constraint of e.args) {
    if (constraint.tools !== undefined && !anyGlobMatches(constraint.tools, name)) continue;
    const problem = argumentProblem(constraint, call.arguments);
    if (problem !== undefined) return deny("argument_violation", problem);
  }
  if (e.promptSha256.length > 0) {
    if (promptHash === undefined) return deny("prompt_missing", "token is bound to a prompt and none was presented");
    for (const expected of e.promptSha256) {
      if (expected !== promptHash) return deny("prompt_mismatch", "presented prompt does not match the token's prompt binding");
    }
  }
  return { ok: true };
}

function argumentProblem(c: ArgConstraint, args: unknown): string | undefined {
  const actual = resolvePointer(args, c.path);
  const where = `argument ${c.path}`;
  if (actual === undefined) return `${where} is missing; the token constrains it`;
  const expected = c.value;
  switch (c.op) {
    case "eq":
      return sameJson(actual, expected) ? undefined : `${where} must equal ${canonicalize(expected)}`;
    case "ne":
      return sameJson(actual, expected) ? `${where} must not equal ${canonicalize(expected)}` : undefined;
    case "in":
      return (expected as unknown[]).some((v) => sameJson(actual, v)) ? undefined : `${where} must be one of ${canonicalize(expected)}`;
    case "not_in":
      return (expected as unknown[]).some((v) => sameJson(actual, v)) ? `${where} must not be one of ${canonicalize(expected)}` : undefined;
    case "lt":
    case "le":
    case "gt":
    case "ge":
      return compareNumbers(c.op, actual, expected as number) ? undefined : `${where} must be ${c.op} ${String(expected)}`;
    case "under":
      return isUnder(actual, expected as string) ? undefined : `${where} must be a path under ${String(expected)}`;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
}

function compareNumbers(op: "lt" | "le" | "gt" | "ge", actual: unknown, limit: number): boolean {
  if (typeof actual !== "number" || !Number.isFinite(actual)) return false;
  if (op === "lt") return actual < limit;
  if (op === "le") return actual <= limit;
  if (op === "gt") return actual > limit;
  return actual >= limit;
}
