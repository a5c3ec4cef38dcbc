// Passthrough for forward-proxy requests to hosts no MCP server declares, when the tenant chose
// `unknownHosts: passthrough`: the request goes to the named authority over plain HTTP, unchecked
// and unrecorded except for a metric. It exists for agents whose HTTP_PROXY also carries non-MCP
// traffic; every request it forwards escapes the checks, so it is off by default.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, type Dispatcher } from "undici";
import { HttpError } from "./http-error.ts";
import { pipeThrough } from "./relay.ts";

const DROPPED = new Set(["connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"]);

export interface Passthrough {
  forward(req: IncomingMessage, res: ServerResponse, authority: string, path: string, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export function createPassthrough(options: { connectTimeoutMs?: number; headersTimeoutMs?: number } = {}): Passthrough {
  const agent = new Agent({ connect: { timeout: options.connectTimeoutMs ?? 5000 }, headersTimeout: options.headersTimeoutMs ?? 30_000 });
  return {
    async forward(req, res, authority, path, signal) {
      const named = new Set(String(req.headers.connection ?? "").split(",").map((s) => s.trim().toLowerCase()));
      const headers: Record<string, string | string[]> = { host: authority };
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || DROPPED.has(name) || named.has(name)) continue;
        headers[name] = value;
      }
      const method = (req.method ?? "GET") as Dispatcher.HttpMethod;
      const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
      let up: Dispatcher.ResponseData;
      try {
        up = await agent.request({ origin: `http://${authority}`, path, method, headers, ...(hasBody ? { body: req } : {}), signal });
      } catch (error) {
        if (signal.aborted) throw error;
        throw new HttpError(502, "upstream_unavailable", `passthrough to ${authority} failed: ${(error as { code?: string }).code ?? (error as Error).message}`);
      }
      await pipeThrough(up, res);
    },
    close: () => agent.close(),
  };
}
