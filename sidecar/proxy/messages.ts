// A POST's body, taken apart: parsed strictly, every JSON-RPC message validated, every tools/call
// decided. What comes out says what to forward (the original bytes, or the allowed part of a batch)
// and which refusals the sidecar answers itself.
import type { IncomingHttpHeaders } from "node:http";
import type { CallOutcome, ToolCallRequest } from "../decide.ts";
import { classifyMessage, ProtocolError, refusalResponse, RPC, toolCallParams, type Message } from "../mcp/jsonrpc.ts";
import { JsonSyntaxError, parseStrictJson } from "../mcp/strict-json.ts";
import { HttpError } from "./http-error.ts";
import { PendingRequests, type AnswerOutcome } from "./pending.ts";

export const PROMPT_META_KEY = "dev.intentgate/prompt";
/** Memory items that shaped the call (docs/spec/memory-provenance.md); passed on as sent, checked by the memory check. */
export const MEMORY_META_KEY = "dev.intentgate/memory";
/** The one MCP revision whose transport allows JSON-RPC batches. */
export const BATCH_REVISION = "2025-03-26";

export interface PostInput {
  body: Buffer;
  server: string;
  token: string | undefined;
  /** The negotiated revision: the MCP-Protocol-Version header, else what the session negotiated. */
  protocolVersion: string | undefined;
  maxDepth: number;
  maxBatch: number;
  decide: (call: ToolCallRequest) => Promise<CallOutcome>;
  visibleTools: ((token: string | undefined) => (tool: string) => boolean) | undefined;
  /** Told each tools/list result's tools, with this POST's server name (the intent catalog records them). */
  onToolsListed?: (server: string, tools: readonly unknown[]) => void;
  /** Told how each allowed call ended, when its answer is relayed. */
  onOutcome?: (call: AllowedCall, outcome: string) => void;
}

export interface AllowedCall {
  decisionId: string;
  server: string;
  tool: string;
  /** Unix milliseconds when the call was decided. */
  decidedAt: number;
  /** Set when the upstream's answer to this call has been relayed. */
  outcome: AnswerOutcome | undefined;
}

export interface PreparedPost {
  batch: boolean;
  forward: Buffer | undefined;
  pending: PendingRequests;
  refusals: object[];
  decisionIds: string[];
  /** The calls forwarded after an allow decision, to record their outcome. */
  allowed: AllowedCall[];
}

const NO_OUTCOME: Promise<undefined> = Promise.resolve(undefined);

export async function preparePost(input: PostInput): Promise<PreparedPost> {
  let parsed;
  try {
    parsed = parseStrictJson(input.body, input.maxDepth);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new HttpError(400, error.code, error.message, RPC.parseError);
    throw error;
  }
  const batch = parsed.elements !== undefined;
  const values = batch ? (parsed.value as unknown[]) : [parsed.value];
  if (batch) checkBatch(values.length, input);
  const messages = values.map((value) => classify(value));
  if (batch && messages.some((m) => m.kind === "request" && m.method === "initialize")) {
    throw new HttpError(400, "initialize_in_batch", "initialize must not be part of a JSON-RPC batch");
  }

  // Validate every message before deciding any, so a bad element cannot leave others half-decided.
  const calls = messages.map((m) => (m.kind === "request" && m.method === "tools/call" ? toolCall(m, input) : undefined));
  const pending = new PendingRequests();
  const start = (m: Message, i: number): Promise<CallOutcome | undefined> => {
    const call = calls[i];
    if (call !== undefined) return input.decide(call);
    if (m.kind === "request") {
      const visible = m.method === "tools/list" ? input.visibleTools?.(input.token) : undefined;
      const onListed = m.method === "tools/list" ? input.onToolsListed : undefined;
      const listed = onListed && ((tools: readonly unknown[]) => onListed(input.server, tools));
      pending.add(m.id, { method: m.method, ...(visible ? { visible } : {}), ...(listed ? { listed } : {}) });
    }
    return NO_OUTCOME;
  };
  // One message (the usual POST) is awaited alone, without Promise.all's array and extra promises.
  const outcomes: Array<CallOutcome | undefined> = messages.length === 1 ? [await start(messages[0] as Message, 0)] : await Promise.all(messages.map(start));

  const refusals: object[] = [];
  const decisionIds: string[] = [];
  const allowed: AllowedCall[] = [];
  const kept: number[] = [];
  messages.forEach((m, i) => {
    const outcome = outcomes[i];
    if (outcome !== undefined) decisionIds.push(outcome.decisionId);
    if (outcome === undefined || outcome.allowed) {
      if (outcome !== undefined && m.kind === "request") {
        const call: AllowedCall = { decisionId: outcome.decisionId, server: input.server, tool: calls[i]?.tool ?? "", decidedAt: Date.now(), outcome: undefined };
        allowed.push(call);
        pending.add(m.id, {
          method: m.method,
          answered: (answer) => {
            call.outcome = answer;
            input.onOutcome?.(call, answer);
          },
          abandoned: (why = "no_answer") => {
            if (call.outcome === undefined) input.onOutcome?.(call, why);
          },
        });
      }
      kept.push(i);
    } else if (m.kind === "request") {
      refusals.push(refusalResponse(m.id, outcome));
    }
  });

  let forward: Buffer | undefined;
  if (kept.length === messages.length) forward = input.body;
  else if (kept.length > 0) {
    const elements = parsed.elements ?? [];
    forward = Buffer.from(`[${kept.map((i) => parsed.text.slice(...(elements[i] as [number, number]))).join(",")}]`, "utf8");
  }
  return { batch, forward, pending, refusals, decisionIds, allowed };
}

function checkBatch(size: number, input: PostInput): void {
  if (size === 0) throw new HttpError(400, "empty_batch", "a JSON-RPC batch must not be empty");
  if (size > input.maxBatch) throw new HttpError(400, "batch_too_large", `a batch may hold at most ${input.maxBatch} messages`);
  const revision = input.protocolVersion ?? BATCH_REVISION;
  if (revision !== BATCH_REVISION) {
    throw new HttpError(400, "batch_not_allowed", `JSON-RPC batches are not part of MCP ${revision}`);
  }
}

function classify(value: unknown): Message {
  try {
    return classifyMessage(value);
  } catch (error) {
    if (error instanceof ProtocolError) {
      const id = (value as { id?: unknown } | null)?.id;
      throw new HttpError(400, error.reason, error.message, error.rpcCode, typeof id === "string" || typeof id === "number" ? id : null);
    }
    throw error;
  }
}

function toolCall(m: Message & { kind: "request" }, input: PostInput): ToolCallRequest {
  let params;
  try {
    params = toolCallParams(m.params);
  } catch (error) {
    if (error instanceof ProtocolError) throw new HttpError(400, error.reason, error.message, error.rpcCode, m.id);
    throw error;
  }
  const prompt = params.meta?.[PROMPT_META_KEY];
  const memory = params.meta?.[MEMORY_META_KEY];
  return {
    server: input.server,
    tool: params.name,
    arguments: params.arguments,
    token: input.token,
    prompt: typeof prompt === "string" ? prompt : undefined,
    ...(memory !== undefined ? { memory } : {}),
  };
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers["authorization"];
  if (value === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match ? match[1] : value;
}
