// Caveat types. Each caveat only narrows what a token allows; verification ANDs them all.
// A caveat whose type or fields are not exactly one of these makes the whole token invalid.
import { canonicalize } from "../jcs.ts";

export type ArgOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "in" | "not_in" | "under";
export const ARG_OPS: readonly ArgOp[] = ["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "under"];

export type Caveat =
  | { type: "hop"; id: string }
  | { type: "expires"; at: number }
  | { type: "not_before"; at: number }
  | { type: "tools"; allow: string[] }
  | { type: "tools_deny"; deny: string[] }
  | { type: "servers"; allow: string[] }
  | { type: "agent"; id: string }
  | { type: "arg"; tools?: string[]; path: string; op: ArgOp; value: unknown }
  | { type: "prompt"; sha256: string }
  | { type: "calls"; max: number }
  | { type: "rate"; max: number; window: number }
  | { type: "cost"; max: number; window: number }
  | { type: "step_up" };

export type CaveatType = Caveat["type"];

type FieldRule = (value: unknown) => boolean;

const isId = (v: unknown): boolean => typeof v === "string" && /^[A-Za-z0-9_-]{8,64}$/.test(v);
const isTime = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isWindow = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const isName = (v: unknown): boolean => typeof v === "string" && v.length > 0 && v.length <= 256;
const isNameList = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.length <= 256 && v.every(isName);
const isPointer = (v: unknown): boolean => typeof v === "string" && v.startsWith("/") && v.length <= 512;
// The value is signed as canonical JSON, so it must be JSON that RFC 8785 can write (finite numbers, no lone surrogates).
const isJson = (v: unknown): boolean => {
  try {
    canonicalize(v);
    return true;
  } catch {
    return false;
  }
};
const isCost = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;

// Required and optional fields per type; anything else is refused.
const SCHEMAS: Record<CaveatType, { required: Record<string, FieldRule>; optional?: Record<string, FieldRule> }> = {
  hop: { required: { id: isId } },
  expires: { required: { at: isTime } },
  not_before: { required: { at: isTime } },
  tools: { required: { allow: isNameList } },
  tools_deny: { required: { deny: isNameList } },
  servers: { required: { allow: isNameList } },
  agent: { required: { id: isName } },
  arg: {
    required: { path: isPointer, op: (v) => ARG_OPS.includes(v as ArgOp), value: isJson },
    optional: { tools: isNameList },
  },
  prompt: { required: { sha256: (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v) } },
  calls: { required: { max: isCount } },
  rate: { required: { max: isCount, window: isWindow } },
  cost: { required: { max: isCost, window: isWindow } },
  step_up: { required: {} },
};

/** Why a value is not a valid caveat, or undefined when it is one. */
export function caveatProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "caveat is not an object";
  const record = value as Record<string, unknown>;
  const type = record["type"];
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) return `unknown caveat type ${JSON.stringify(type)}`;
  const schema = SCHEMAS[type as CaveatType];
  for (const [field, rule] of Object.entries(schema.required)) {
    if (!Object.hasOwn(record, field) || !rule(record[field])) return `${type} caveat has a missing or invalid "${field}"`;
  }
  for (const field of Object.keys(record)) {
    if (field === "type" || Object.hasOwn(schema.required, field)) continue;
    const rule = schema.optional?.[field];
    if (rule === undefined) return `${type} caveat has an unknown field "${field}"`;
    if (!rule(record[field])) return `${type} caveat has an invalid "${field}"`;
  }
  if (type === "arg") return argProblem(record["op"] as ArgOp, record["value"]);
  return undefined;
}

function argProblem(op: ArgOp, value: unknown): string | undefined {
  switch (op) {
    case "lt":
    case "le":
    case "gt":
    case "ge":
      return typeof value === "number" && Number.isFinite(value) ? undefined : `arg caveat "${op}" needs a finite number`;
    case "in":
    case "not_in":
      return Array.isArray(value) && value.length > 0 ? undefined : `arg caveat "${op}" needs a non-empty array`;
    case "under":
      return typeof value === "string" && value.startsWith("/") ? undefined : `arg caveat "under" needs an absolute path`;
    default:
      return undefined;
  }
}
