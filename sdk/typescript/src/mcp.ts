// Helpers for the official MCP TypeScript SDK (`@modelcontextprotocol/sdk`), typed structurally so this
// package depends on nothing: pass the options to `new StreamableHTTPClientTransport(url, options)`,
// and an existing MCP client works through the sidecar unchanged.
import type { MemoryItem } from "./memory/item.ts";

export const PROMPT_META_KEY = "dev.intentgate/prompt";
export const MEMORY_META_KEY = "dev.intentgate/memory";
export const DECISION_META_KEY = "dev.intentgate/decision";

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface SidecarTransportOptions {
  requestInit?: { headers: Record<string, string> };
  fetch?: Fetch;
}

/**
 * Transport options that present the capability token on every request (POST, the GET stream, DELETE).
 * A function is asked for the token before each request, so an agent can attenuate per task.
 */
export function sidecarTransportOptions(token: string | (() => string | Promise<string>), options: { fetch?: Fetch } = {}): SidecarTransportOptions {
  if (typeof token === "string") return { requestInit: { headers: { authorization: `Bearer ${token}` } }, ...(options.fetch ? { fetch: options.fetch } : {}) };
  const base: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  return {
    fetch: async (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${await token()}`);
      return base(url, { ...init, headers });
    },
  };
}

/** The `_meta` of a `tools/call`: the user's prompt (for prompt-bound tokens) and the memory items that shaped the call. */
export function toolCallMeta(options: { prompt?: string; memory?: readonly (MemoryItem & { content: string })[] }): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  if (options.prompt !== undefined) meta[PROMPT_META_KEY] = options.prompt;
  if (options.memory !== undefined) meta[MEMORY_META_KEY] = options.memory;
  return meta;
}

export interface Refusal {
  decision: "block" | "escalate";
  code: string;
  reason: string;
  decisionId: string;
}

/** The sidecar's refusal carried by a `tools/call` result, or undefined when the call was not refused by it. */
export function refusalOf(result: unknown): Refusal | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  const meta = (result as { _meta?: unknown })._meta;
  const decision = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)[DECISION_META_KEY] : undefined;
  if (typeof decision !== "object" || decision === null) return undefined;
  const d = decision as Record<string, unknown>;
  if ((d["decision"] !== "block" && d["decision"] !== "escalate") || typeof d["code"] !== "string") return undefined;
  return { decision: d["decision"], code: d["code"], reason: String(d["reason"] ?? ""), decisionId: String(d["decision_id"] ?? "") };
}
