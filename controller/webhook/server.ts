// The admission webhook's HTTPS server: AdmissionReview v1 on POST /mutate. The uid is echoed,
// patches are JSONPatch; a malformed review gets a 400 with a reason (the API server then applies
// the webhook's failurePolicy), a lookup failure a 500; nothing crashes the process. The serving
// certificate can be swapped while running (rotation).
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { WebhookTls } from "./certs.ts";
import type { AdmissionRequest, PodMutator } from "./mutate.ts";

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: WebhookTls;
  mutate: PodMutator;
  log: Logger;
  /** The API server sends at most a few MiB per review; anything larger is refused unread. */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  url: string;
  setTls(tls: WebhookTls): void;
  close(): Promise<void>;
}

const API_VERSION = "admission.k8s.io/v1";

class ReviewError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const maxBodyBytes = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const server: Server = createServer({ cert: o.tls.certPem, key: o.tls.keyPem, minVersion: "TLSv1.2" }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof ReviewError ? error.status : 500;
      if (status === 500) o.log.error({ err: error }, "admission review failed");
      else o.log.warn({ reason: (error as Error).message }, "admission review refused");
      if (!res.headersSent) reply(res, status, { error: (error as Error).message });
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? "").split("?")[0] !== "/mutate") throw drained(req, new ReviewError(404, "not found: the webhook is served at /mutate"));
    if (req.method !== "POST") throw drained(req, new ReviewError(405, "POST an AdmissionReview"));
    if (!/^application\/json\s*(;|$)/i.test(String(req.headers["content-type"] ?? ""))) throw drained(req, new ReviewError(415, "the review must be application/json"));
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBodyBytes) throw drained(req, new ReviewError(413, `the review is larger than ${maxBodyBytes} bytes`));
    const request = parseReview(await readLimited(req, maxBodyBytes));
    const { decision, ...response } = await o.mutate(request);
    o.log.info({ uid: request.uid, namespace: request.namespace, decision, dryRun: request.dryRun === true }, "admission review");
    reply(res, 200, { apiVersion: API_VERSION, kind: "AdmissionReview", response });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `https://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/mutate`,
    setTls: (tls) => server.setSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: "TLSv1.2" }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseReview(body: Buffer): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(body.toString("utf8"));
  } catch {
    throw new ReviewError(400, "the body is not JSON");
  }
  const r = review as { apiVersion?: unknown; kind?: unknown; request?: { uid?: unknown } } | null;
  if (r === null || typeof r !== "object" || r.apiVersion !== API_VERSION || r.kind !== "AdmissionReview") throw new ReviewError(400, `not an ${API_VERSION} AdmissionReview`);
  if (typeof r.request !== "object" || r.request === null || typeof r.request.uid !== "string" || r.request.uid === "") throw new ReviewError(400, "the review has no request uid");
  return r.request as AdmissionRequest;
}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new ReviewError(413, `the review is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function drained(req: IncomingMessage, error: ReviewError): ReviewError {
  req.resume();
  return error;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...(status === 413 ? { connection: "close" } : {}) });
  res.end(text);
}
