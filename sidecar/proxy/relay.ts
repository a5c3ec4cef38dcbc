// Relays an upstream's answer to a POST back to the agent: JSON bodies are checked whole, SSE
// streams event by event; refusals the sidecar made for part of a batch are merged in.
import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { formatSseEvent, SseSplitter, type SseEvent } from "../mcp/sse.ts";
import { collectLimited } from "./collect.ts";
import { checkAnswer } from "./answers.ts";
import { downstreamResponseHeaders } from "./headers.ts";
import { HttpError, sendJson } from "./http-error.ts";
import type { AnswerSet } from "./pending.ts";
import { RPC } from "../mcp/jsonrpc.ts";

export interface RelayPlan {
  pending: AnswerSet;
  refusals: object[];
  batch: boolean;
  maxResponseBytes: number;
  maxSseEventBytes: number;
  onInitialize?: (protocolVersion: string, sessionId: string | undefined) => void;
  onDroppedEvent: (message: string) => void;
}

const upstreamFault = (message: string): HttpError => new HttpError(502, "upstream_protocol_error", message, RPC.internal);

export async function relayAnswer(up: Dispatcher.ResponseData, res: ServerResponse, plan: RelayPlan): Promise<void> {
  const type = String(up.headers["content-type"] ?? "").toLowerCase();
  const headers = downstreamResponseHeaders(up.headers);
  const sessionId = typeof up.headers["mcp-session-id"] === "string" ? up.headers["mcp-session-id"] : undefined;
  const onInitialize = plan.onInitialize && ((v: string) => plan.onInitialize?.(v, sessionId));
  if (up.statusCode < 200 || up.statusCode >= 300) return pipeThrough(up, res);
  if (type.startsWith("text/event-stream")) return relaySse(up, res, headers, plan, onInitialize);
  if (type.startsWith("application/json")) return relayJson(up, res, headers, plan, onInitialize);
  if (plan.refusals.length > 0) {
    await up.body.dump();
    return sendJson(res, 200, plan.batch ? plan.refusals : plan.refusals[0], headersWithout(headers));
  }
  return pipeThrough(up, res);
}

async function relayJson(up: Dispatcher.ResponseData, res: ServerResponse, headers: Record<string, unknown>, plan: RelayPlan, onInitialize?: (v: string) => void): Promise<void> {
  const bytes = await readLimited(up, plan.maxResponseBytes);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw upstreamFault("upstream answered with invalid JSON");
  }
  const messages = Array.isArray(value) ? value : [value];
  let modified = plan.refusals.length > 0;
  const out: unknown[] = [];
  for (const message of messages) {
    const answer = checkAnswer(message, plan.pending, onInitialize);
    if (!answer.ok) throw upstreamFault(answer.message);
    modified ||= answer.modified;
    out.push(answer.value);
  }
  if (!modified) {
    headers["content-length"] = bytes.length; // headers is this answer's own copy
    res.writeHead(up.statusCode, headers as Record<string, string>);
    res.end(bytes);
    return;
  }
  out.push(...plan.refusals);
  sendJson(res, up.statusCode, plan.batch || out.length > 1 ? out : out[0], headersWithout(headers));
}

async function relaySse(up: Dispatcher.ResponseData, res: ServerResponse, headers: Record<string, unknown>, plan: RelayPlan, onInitialize?: (v: string) => void): Promise<void> {
  res.writeHead(up.statusCode, headers as Record<string, string>);
  res.flushHeaders();
  for (const refusal of plan.refusals) await write(res, formatSseEvent(JSON.stringify(refusal)));
  await streamEvents(up, res, plan.maxSseEventBytes, (event) => rewriteEvent(event, plan, onInitialize));
}

/** Streams SSE events from upstream to the agent, each passed through `rewrite` (null drops it). */
export async function streamEvents(up: Dispatcher.ResponseData, res: ServerResponse, maxEventBytes: number, rewrite: (event: SseEvent) => string | null): Promise<void> {
  const splitter = new SseSplitter(maxEventBytes);
  try {
    for await (const chunk of up.body as AsyncIterable<Buffer>) {
      for (const event of splitter.push(chunk)) {
        const text = rewrite(event);
        if (text !== null && !(await write(res, text))) return;
      }
    }
    const rest = splitter.rest();
    if (rest !== "") await write(res, rest);
    res.end();
  } catch (error) {
    res.destroy(error as Error);
    up.body.destroy();
  }
}

export function rewriteEvent(event: SseEvent, plan: Pick<RelayPlan, "pending" | "onDroppedEvent">, onInitialize?: (v: string) => void): string | null {
  // No data, empty data (a priming event: an id, perhaps a retry, and no message; the client needs
  // its id to resume with Last-Event-ID) or another event type: nothing to check, relayed as it came.
  if (event.data === undefined || event.data === "" || (event.event !== undefined && event.event !== "message")) return event.raw;
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch {
    plan.onDroppedEvent("upstream sent an SSE message that is not JSON");
    return null;
  }
  const answer = checkAnswer(value, plan.pending, onInitialize);
  if (!answer.ok) {
    plan.onDroppedEvent(answer.message);
    return null;
  }
  if (!answer.modified) return event.raw;
  return `${event.id !== undefined ? `id: ${event.id}\n` : ""}${formatSseEvent(JSON.stringify(answer.value))}`;
}

/** Writes and waits for the socket to drain; false when the agent has gone away. */
export function write(res: ServerResponse, data: string | Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

function readLimited(up: Dispatcher.ResponseData, max: number): Promise<Buffer> {
  return collectLimited(up.body, max, () => upstreamFault(`upstream answer is larger than ${max} bytes`));
}

/** Relays status, headers (less hop-by-hop) and body untouched. */
export async function pipeThrough(up: Dispatcher.ResponseData, res: ServerResponse): Promise<void> {
  res.writeHead(up.statusCode, downstreamResponseHeaders(up.headers));
  for await (const chunk of up.body as AsyncIterable<Buffer>) {
    if (!(await write(res, chunk))) {
      up.body.destroy();
      return;
    }
  }
  res.end();
}

function headersWithout(headers: Record<string, unknown>): Record<string, string> {
  const out = { ...headers } as Record<string, string>;
  delete out["content-length"];
  delete out["content-type"];
  return out;
}
