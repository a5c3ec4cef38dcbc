// Reading and validating the lease API's request bodies: strict shapes, unknown members refused.
import type { IncomingMessage } from "node:http";
import { MAX_TOKEN_LENGTH } from "../../wire/token/codec.ts";

export class RequestError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra members of the error object in the answer. */
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Room for the longest capability token a token ceiling's grant carries, and the other members. */
export const MAX_BODY_BYTES = MAX_TOKEN_LENGTH + 4 * 1024;
const MAX_CALLS = 100_000;

export interface GrantBody {
  budget: string;
  key: string;
  holder: string;
  calls: number;
  cost?: number;
  minCost: number;
  /** The capability token carrying the ceiling, for the token budget only. */
  token?: string;
}

export interface ReturnBody {
  calls: number;
  cost: number;
}

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new RequestError(415, "unsupported_media_type", "send application/json");
  const bytes = await collect(req);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new RequestError(400, "invalid_json", "the body is not JSON");
  }
}

/** Reads the body within the limit; past it, reads and drops the rest so the 413 answer still arrives. */
function collect(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = (): RequestError => new RequestError(413, "body_too_large", `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off("data", onData);
      req.resume();
      reject(tooLarge());
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks, size)));
    req.once("error", reject);
    req.once("close", () => reject(new RequestError(400, "invalid_request", "the request ended before its body")));
  });
}

export function readGrant(body: unknown): GrantBody {
  const o = object(body, ["budget", "key", "holder", "calls", "cost", "minCost", "token"]);
  const grant: GrantBody = {
    budget: text(o, "budget"),
    key: text(o, "key"),
    holder: text(o, "holder"),
    calls: o["calls"] === undefined ? 1 : count(o, "calls", 1, MAX_CALLS),
    minCost: o["minCost"] === undefined ? 0 : amount(o, "minCost"),
  };
  if (o["cost"] !== undefined) grant.cost = amount(o, "cost");
  if (o["token"] !== undefined) grant.token = text(o, "token", MAX_TOKEN_LENGTH);
  return grant;
}

export function readReturn(body: unknown): ReturnBody {
  const o = object(body, ["calls", "cost"]);
  return { calls: count(o, "calls", 0, MAX_CALLS), cost: o["cost"] === undefined ? 0 : amount(o, "cost") };
}

function object(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("the body must be a JSON object");
  for (const name of Object.keys(body)) if (!allowed.includes(name)) throw invalid(`unknown member ${JSON.stringify(name)}`);
  return body as Record<string, unknown>;
}

function text(o: Record<string, unknown>, name: string, max = 253): string {
  const v = o[name];
  if (typeof v !== "string" || v.length === 0 || v.length > max) throw invalid(`${name} must be a string of 1 to ${max} characters`);
  return v;
}

function count(o: Record<string, unknown>, name: string, min: number, max: number): number {
  const v = o[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  return v;
}

function amount(o: Record<string, unknown>, name: string): number {
  const v = o[name];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw invalid(`${name} must be a finite number >= 0`);
  return v;
}

const invalid = (message: string): RequestError => new RequestError(400, "invalid_request", message);
