// The audit ingest API: sidecars POST the lines of their spool (NDJSON, exactly as written) and the
// controller stores them in its PostgreSQL database, the one `intentgate audit verify|export` read.
// A pod may write only its own stream (its tenant, namespace, pod name and pod UID in the name) and
// only records naming its tenant and agent; every line is checked before any is stored. A line that disagrees
// with a stored one is refused (409), never written over. 200 means the transaction committed, so
// the sidecar may then let the lines go; a database that is down answers 503 and the sidecar retries.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { canonicalize } from "../../wire/jcs.ts";
import { isPodStream } from "../../wire/audit/pod-stream.ts";
import { agentId, type AgentIdentity } from "../snapshot/build.ts";
import { sendJson, type Route } from "./api.ts";
import { AuthError } from "./auth.ts";

/**
 * The audit store's inserts (sidecar/audit/store, which the CLI opens and passes in: the controller
 * and the sidecar do not import each other). Its errors carry stable codes: audit_conflict (with the
 * conflicting stream and seq) and audit_invalid_line.
 */
export interface AuditIngestStore {
  migrate(): Promise<{ applied: string[]; version: number }>;
  insertRecords(lines: readonly string[]): Promise<number>;
  insertCheckpoints(lines: readonly string[]): Promise<number>;
}
type Conflict = Error & { code: "audit_conflict"; conflicts: ReadonlyArray<{ table: string; stream: string; seq: number }> };
const isConflict = (error: unknown): error is Conflict => (error as { code?: unknown } | null)?.code === "audit_conflict";
const isInvalidLine = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === "audit_invalid_line";

export interface AuditIngestOptions {
  /** The audit database; absent, every route answers 501 and sidecars keep their records in their spools. */
  store: AuditIngestStore | undefined;
  /** The Tenant that owns a namespace, if exactly one does. */
  tenantOf(namespace: string): string | undefined;
  log: Logger;
  /** Largest request body (default 8 MiB). */
  maxBodyBytes?: number;
}

type Kind = "records" | "checkpoints";
type Line = { text: string; value: unknown };

export function createAuditIngest(options: AuditIngestOptions): Record<string, Route> {
  const { store, log } = options;
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const notConfigured = (): AuthError => new AuthError(501, "audit_not_configured", "the controller has no audit database: sidecars keep their records in their spools");
  let migrated: Promise<number> | undefined;
  // Migrations run at start; while they have not succeeded, each request tries again (503 until then).
  const schema = (): Promise<number> => {
    if (store === undefined) return Promise.reject(notConfigured());
    migrated ??= store.migrate().then(
      (report) => {
        log.info({ applied: report.applied, version: report.version }, "audit database schema is current");
        return report.version;
      },
      (error: unknown) => {
        migrated = undefined;
        throw error;
      },
    );
    return migrated;
  };
  if (store !== undefined) schema().catch((error: unknown) => log.error({ reason: (error as Error).message }, "audit database unavailable at start: ingest answers 503 until it is back"));

  const ingest = (kind: Kind): Route => async (req, res, who) => {
    try {
      if (store === undefined) throw notConfigured(); // before reading anything
      const lines = await readLines(req, maxBody);
      checkOwnership(lines, kind, who, options.tenantOf(who.namespace));
      await database(schema);
      const text = lines.map((l) => l.text);
      const stored = await database(() => (kind === "records" ? store.insertRecords(text) : store.insertCheckpoints(text)));
      sendJson(res, 200, { stored, received: lines.length });
    } catch (error) {
      respond(res, error as Error, who, kind, log);
    }
  };
  return {
    "GET /v1/audit/status": async (_req, res, who) => {
      try {
        sendJson(res, 200, { schemaVersion: await database(schema) });
      } catch (error) {
        respond(res, error as Error, who, "records", log);
      }
    },
    "POST /v1/audit/records": ingest("records"),
    "POST /v1/audit/checkpoints": ingest("checkpoints"),
  };
}

/** Store errors keep their meaning (conflict, bad line); anything else from the database is an outage. */
async function database<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof AuthError || isConflict(error)) throw error;
    if (isInvalidLine(error)) throw new AuthError(400, "audit_invalid_line", (error as Error).message);
    throw new AuthError(503, "audit_database_unavailable", `the audit database is unavailable: ${(error as Error).message}`);
  }
}

function respond(res: ServerResponse, error: Error, who: AgentIdentity, kind: Kind, log: Logger): void {
  const caller = { namespace: who.namespace, pod: who.podName, pod_uid: who.podUid, kind };
  if (isConflict(error)) {
    log.error({ ...caller, conflicts: error.conflicts }, "audit lines conflict with stored ones: refused, nothing stored");
    sendJson(res, 409, { error: { code: error.code, message: error.message, conflicts: error.conflicts } });
    return;
  }
  const refusal = error instanceof AuthError ? error : new AuthError(500, "internal_error", error.message);
  if (refusal.status === 403) log.warn({ ...caller, reason: refusal.message }, "audit lines refused: not the caller's");
  else if (refusal.status >= 500 && refusal.status !== 501) log.warn({ ...caller, code: refusal.code, reason: refusal.message }, "audit ingest failed");
  if (!res.headersSent) sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message } });
}

/** The body's lines, each canonical JSON (as the spool wrote it: hashes and MACs verify over these bytes). */
async function readLines(req: IncomingMessage, maxBody: number): Promise<Line[]> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-ndjson") throw new AuthError(415, "unsupported_media_type", "audit lines are sent as application/x-ndjson");
  const tooLarge = (): AuthError => new AuthError(413, "body_too_large", `request bodies are limited to ${maxBody} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > maxBody) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) throw tooLarge();
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks).toString("utf8");
  if (!body.endsWith("\n")) throw new AuthError(400, "audit_invalid_line", "the body must be lines, each ending with a newline");
  return body
    .slice(0, -1)
    .split("\n")
    .map((text, i) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new AuthError(400, "audit_invalid_line", `line ${i + 1} is not JSON`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AuthError(400, "audit_invalid_line", `line ${i + 1} is not an object`);
      if (canonicalize(value) !== text) throw new AuthError(400, "audit_invalid_line", `line ${i + 1} is not canonical JSON (RFC 8785), as the spool writes it`);
      return { text, value };
    });
}

/** Every line must be in the caller's stream, and records must name its tenant and agent. */
function checkOwnership(lines: readonly Line[], kind: Kind, who: AgentIdentity, tenant: string | undefined): void {
  const { podName: pod, podUid: uid } = who;
  if (pod === undefined) throw new AuthError(403, "audit_pod_unknown", "the token is not bound to a pod, so it owns no audit stream");
  // Without the UID a later pod of the same name could not be told from this one.
  if (uid === undefined) throw new AuthError(403, "audit_pod_unknown", `the token names pod ${who.namespace}/${pod} but not its UID, so it owns no audit stream`);
  if (tenant === undefined) throw new AuthError(403, "no_tenant", `no Tenant (or more than one) owns namespace ${who.namespace}`);
  const agent = agentId(who);
  lines.forEach(({ value }, i) => {
    const fields = value as { stream?: unknown; tenant?: unknown; agent?: unknown };
    if (typeof fields.stream !== "string" || !isPodStream(fields.stream, tenant, who.namespace, pod, uid)) {
      throw new AuthError(403, "audit_stream_forbidden", `line ${i + 1}: stream ${JSON.stringify(fields.stream)} is not the stream of pod ${who.namespace}/${pod} (uid ${uid})`);
    }
    if (kind === "records" && (fields.tenant !== tenant || fields.agent !== agent)) {
      throw new AuthError(403, "audit_stream_forbidden", `line ${i + 1}: the record names tenant ${JSON.stringify(fields.tenant)} and agent ${JSON.stringify(fields.agent)}, the caller is ${tenant} ${agent}`);
    }
  });
}
