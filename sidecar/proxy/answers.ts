// Checks one message coming back from an upstream: a response must answer a request we forwarded
// (exact id, once); a tools/list result is filtered to what the caller may call. Server-to-client
// requests and notifications pass untouched.
import type { AnswerSet } from "./pending.ts";

export type AnswerResult = { ok: true; value: unknown; modified: boolean } | { ok: false; message: string };

export function checkAnswer(value: unknown, pending: AnswerSet, onInitialize?: (protocolVersion: string) => void): AnswerResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, message: "upstream sent a message that is not an object" };
  const m = value as Record<string, unknown>;
  if (Object.hasOwn(m, "method")) return { ok: true, value, modified: false };
  const request = pending.take(m["id"]);
  if (request === undefined) return { ok: false, message: `upstream answered id ${JSON.stringify(m["id"])}, which no forwarded request has` };
  if (request.answered !== undefined) {
    const result = m["result"];
    const isError = typeof result === "object" && result !== null && (result as { isError?: unknown }).isError === true;
    request.answered(Object.hasOwn(m, "error") ? "rpc_error" : isError ? "tool_error" : "ok");
  }
  const result = m["result"];
  if (request.method === "initialize" && onInitialize && typeof result === "object" && result !== null) {
    const version = (result as Record<string, unknown>)["protocolVersion"];
    if (typeof version === "string") onInitialize(version);
  }
  if ((request.visible === undefined && request.listed === undefined) || typeof result !== "object" || result === null) return { ok: true, value, modified: false };
  const tools = (result as Record<string, unknown>)["tools"];
  if (!Array.isArray(tools)) return { ok: true, value, modified: false };
  request.listed?.(tools);
  const visible = request.visible;
  if (visible === undefined) return { ok: true, value, modified: false };
  const kept = tools.filter((t: unknown) => typeof t === "object" && t !== null && typeof (t as { name?: unknown }).name === "string" && visible((t as { name: string }).name));
  if (kept.length === tools.length) return { ok: true, value, modified: false };
  return { ok: true, value: { ...m, result: { ...(result as object), tools: kept } }, modified: true };
}
