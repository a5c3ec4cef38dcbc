// Where a Kubernetes-mode sidecar ships its audit spool: the controller's ingest API, which stores
// the lines in its PostgreSQL database and answers 2xx only after the transaction committed. It
// authenticates like the snapshot subscription (the pod's projected token, re-read for every
// request so rotation is picked up) and trusts the same CA. Refusals map to the store's errors, so
// the shipper treats a 409 as it treats a conflict in its own database: nothing is acknowledged.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { Agent, request } from "undici";
import type { AuditSink } from "../audit/shipper.ts";
import { shipSpool, type AuditShipping } from "../audit/shipping.ts";
import type { AuditSpool } from "../audit/spool.ts";
import { AuditConflictError, AuditLineError, type MigrationReport } from "../audit/store/types.ts";
import type { SidecarMetrics } from "../observability/metrics.ts";

export interface ControllerAuditSinkOptions {
  controllerUrl: string;
  tokenFile: string;
  /** PEM CA bundle of an https controller with its own CA. */
  ca?: string;
  /** One request's deadline (default 30 s). */
  timeoutMs?: number;
  /** Lines are sent in requests of at most this many bytes (default 1 MiB; the controller takes 8 MiB). */
  maxRequestBytes?: number;
}

type ErrorBody = { error?: { code?: unknown; message?: unknown; conflicts?: unknown } };

export class ControllerAuditSink implements AuditSink {
  readonly kind = "controller";
  readonly #options: ControllerAuditSinkOptions;
  readonly #dispatcher: Agent;

  constructor(options: ControllerAuditSinkOptions) {
    this.#options = options;
    this.#dispatcher = new Agent({ connections: 2, ...(options.ca !== undefined ? { connect: { ca: options.ca } } : {}) });
  }

  /** The controller migrates its own database; this asks whether it is ready to take records. */
  async migrate(): Promise<MigrationReport> {
    const body = (await this.#call("GET", "/v1/audit/status")) as { schemaVersion?: unknown };
    return { applied: [], version: typeof body.schemaVersion === "number" ? body.schemaVersion : 0 };
  }

  insertRecords(lines: readonly string[]): Promise<number> {
    return this.#send("/v1/audit/records", lines);
  }

  insertCheckpoints(lines: readonly string[]): Promise<number> {
    return this.#send("/v1/audit/checkpoints", lines);
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  /** Each request is its own transaction; re-sending a stored line is harmless, so a partial failure just retries. */
  async #send(path: string, lines: readonly string[]): Promise<number> {
    const limit = this.#options.maxRequestBytes ?? 1024 * 1024;
    let stored = 0;
    let chunk: string[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const body = (await this.#call("POST", path, chunk.join("\n") + "\n")) as { stored?: unknown };
      stored += typeof body.stored === "number" ? body.stored : 0;
      chunk = [];
      bytes = 0;
    };
    for (const line of lines) {
      const size = Buffer.byteLength(line) + 1;
      if (bytes + size > limit) await flush();
      chunk.push(line);
      bytes += size;
    }
    await flush();
    return stored;
  }

  async #call(method: "GET" | "POST", path: string, body?: string): Promise<unknown> {
    const token = (await readFile(this.#options.tokenFile, "utf8")).trim();
    const res = await request(new URL(path, this.#options.controllerUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body !== undefined ? { "content-type": "application/x-ndjson" } : {}) },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
      dispatcher: this.#dispatcher,
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = {};
    }
    if (res.statusCode === 200) return parsed;
    throw refusal(res.statusCode, parsed as ErrorBody, path);
  }
}

/** 409 is a conflict and 400/403/413 a refusal of the lines themselves (both "rejected"); the rest is an outage. */
function refusal(status: number, body: ErrorBody, path: string): Error {
  const code = typeof body.error?.code === "string" ? body.error.code : `http_${status}`;
  const message = typeof body.error?.message === "string" ? body.error.message : "";
  if (status === 409) {
    const conflicts = Array.isArray(body.error?.conflicts) ? (body.error.conflicts as Array<{ table: string; stream: string; seq: number }>) : [];
    return new AuditConflictError(conflicts.length > 0 ? conflicts : [{ table: path.endsWith("checkpoints") ? "checkpoints" : "records", stream: "?", seq: 0 }]);
  }
  if (status === 400 || status === 403 || status === 413) return new AuditLineError(`the controller refused the shipment (HTTP ${status} ${code}): ${message}`);
  if (status === 501) return new Error("the controller has no audit database (INTENTGATE_DATABASE_URL): records stay in the spool");
  return new Error(`the controller's audit ingest answered HTTP ${status} ${code}${message === "" ? "" : `: ${message}`}`);
}

/**
 * Ships the spool to the controller in the background (start-up does not wait for the first
 * shipment). One controller serves every sidecar, so under load each ships at most about once a
 * second, in bigger batches, rather than ten times.
 */
export function shipToController(spool: AuditSpool, target: ControllerAuditSinkOptions, maxSpoolBytes: number, deps: { log: Logger; metrics: SidecarMetrics }): Promise<AuditShipping> {
  return shipSpool(spool, new ControllerAuditSink(target), { where: `controller ${target.controllerUrl}`, maxSpoolBytes, startWaitMs: 0, lingerMs: 1000 }, deps);
}
