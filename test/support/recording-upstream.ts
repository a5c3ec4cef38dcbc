// A plain HTTP server standing in as an upstream for transport-level tests: it records every
// request exactly as it arrived (headers and bytes) and answers with what the test scripts.
// Protocol behaviour is tested against the real SDK server (examples/demo); this one exists to
// see the raw bytes and headers that cross the sidecar, and to misbehave on purpose.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Responder = (request: RecordedRequest, res: ServerResponse) => void;

/** Answers each JSON-RPC request in the body with a result echoing its method. */
export const echoResponder: Responder = (request, res) => {
  const value = JSON.parse(request.body.toString("utf8")) as unknown;
  const answer = (m: { id?: unknown; method?: string }) => ({ jsonrpc: "2.0", id: m.id, result: { echoed: m.method } });
  const messages = (Array.isArray(value) ? value : [value]) as Array<{ id?: unknown; method?: string }>;
  const answers = messages.filter((m) => m.id !== undefined).map(answer);
  if (answers.length === 0) {
    res.writeHead(202).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(value) ? answers : answers[0]));
};

export async function startRecordingUpstream(responder: Responder = echoResponder): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      responder(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
