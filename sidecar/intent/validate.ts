// Strict validation of a recommendation, whichever extractor produced it: exactly the five members,
// each within bounds, tool names exact `server.tool` (no globs). Anything else is invalid_response.
import type { IntentRecommendation } from "../checks/types.ts";
import { IntentExtractorError } from "./errors.ts";

export const MAX_TOOLS = 256;
export const MAX_SUMMARY = 1024;
export const MAX_RATIONALE = 4096;
/** An upstream name (the config's pattern), a dot, then a tool name: no whitespace, controls or `*`. */
export const TOOL_NAME = /^[a-z0-9][a-z0-9-]{0,62}\.[^\s\p{C}*]{1,256}$/u;

const MEMBERS = ["summary", "allowed_tools", "forbidden_tools", "confidence", "rationale"] as const;

export function parseRecommendation(value: unknown, source: string): IntentRecommendation {
  const invalid = (message: string): never => {
    throw new IntentExtractorError("invalid_response", `${source}: ${message}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return invalid("the intent is not an object");
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!(MEMBERS as readonly string[]).includes(key)) invalid(`unknown member "${key}" in the intent`);
  for (const key of MEMBERS) if (!Object.hasOwn(r, key)) invalid(`the intent has no "${key}"`);
  const text = (key: "summary" | "rationale", max: number): string => {
    const v = r[key];
    if (typeof v !== "string" || v.length > max || !v.isWellFormed()) invalid(`"${key}" must be a string of at most ${max} characters`);
    return v as string;
  };
  const tools = (key: "allowed_tools" | "forbidden_tools"): string[] => {
    const v = r[key];
    if (!Array.isArray(v) || v.length > MAX_TOOLS) return invalid(`"${key}" must be an array of at most ${MAX_TOOLS} names`);
    for (const name of v) {
      if (typeof name !== "string" || !TOOL_NAME.test(name)) invalid(`"${key}" holds ${JSON.stringify(name)}, not an exact server.tool name`);
    }
    return [...new Set(v as string[])];
  };
  const confidence = r["confidence"];
  if (typeof confidence !== "number" || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) invalid('"confidence" must be a number from 0 to 1');
  return {
    summary: text("summary", MAX_SUMMARY),
    allowed_tools: tools("allowed_tools"),
    forbidden_tools: tools("forbidden_tools"),
    confidence: confidence as number,
    rationale: text("rationale", MAX_RATIONALE),
  };
}
