// Transport-level faults: an HTTP status plus a JSON-RPC error body with a stable reason.
import type { ServerResponse } from "node:http";
import { errorResponse, RPC, type JsonRpcId } from "../mcp/jsonrpc.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly rpcCode: number;
  readonly id: JsonRpcId | null;
  constructor(status: number, reason: string, message: string, rpcCode: number = RPC.invalidRequest, id: JsonRpcId | null = null) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.rpcCode = rpcCode;
    this.id = id;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendHttpError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const close = error.status === 413 || error.status === 408 ? { connection: "close" } : undefined;
  sendJson(res, error.status, errorResponse(error.id, error.rpcCode, error.reason, error.message), close);
}
