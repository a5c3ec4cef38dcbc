// Audit shipping in Kubernetes mode: a sidecar's spool and shipper send their lines to the
// controller's ingest API (the real router and routes, a real PostgreSQL), and `intentgate audit
// verify` passes on that database. A pod cannot write another pod's stream (nor a later pod of the
// same name its predecessor's) or another agent's records; a line that disagrees with a stored one is refused with its (stream, seq) and nothing is
// stored; while the database or the controller is away the spool keeps everything and it all ships
// once they are back. Authentication is a stand-in for TokenReview (static tokens per pod identity).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { request } from "undici";
import type { AgentIdentity } from "../../controller/snapshot/build.ts";
import { AuditLog } from "../../sidecar/audit/log.ts";
import { AuditShipper, type ShipperObserver } from "../../sidecar/audit/shipper.ts";
import { AuditSpool } from "../../sidecar/audit/spool.ts";
import { AuditConflictError } from "../../sidecar/audit/store/types.ts";
import { ControllerAuditSink } from "../../sidecar/kube/audit-client.ts";
import { podStream, podStreamPrefix } from "../../wire/audit/pod-stream.ts";
import { canonicalize } from "../../wire/jcs.ts";
import { AuditKeys } from "../../wire/audit/index.ts";
import { chainedLines, decisionEvent } from "../support/audit.ts";
import { startAuditIngestServer, type AuditIngestServer } from "../support/audit-ingest-server.ts";
import { cliIn } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { eventually } from "../support/rpc.ts";

const TENANT = "team-a";
const NS = "agents";
const AGENT = `${NS}/agent-a`;
/** A pod as TokenReview names it; each has its own UID, so each test's pod writes a stream of its own. */
const pod = (podName: string): AgentIdentity => ({ namespace: NS, serviceAccount: "agent-a", podName, podUid: randomUUID(), podLabels: {} });
const keyFileContent = AuditKeys.generateFile("team-a-audit");
const keys = AuditKeys.fromFile(keyFileContent);
const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
const dir = mkdtempSync(join(tmpdir(), "intentgate-audit-kube-"));
const keyFile = join(dir, "audit-keys.json");
const streamOf = (who: AgentIdentity): string => podStream(TENANT, who.namespace, who.podName as string, who.podUid as string);
const event = (i: number) => decisionEvent(i, { tenant: TENANT, agent: AGENT });

let postgres: TestPostgres;
let controller: AuditIngestServer;
before(async () => {
  postgres = await startPostgres();
  controller = await startAuditIngestServer(postgres, { [NS]: TENANT });
  writeFileSync(keyFile, JSON.stringify(keyFileContent));
});
after(async () => {
  await controller.close();
  postgres.destroy();
});

interface Sidecar {
  spool: AuditSpool;
  audit: AuditLog;
  sink: ControllerAuditSink;
  shipper: AuditShipper;
  observed: { failures: Error[]; records: number };
  close(): Promise<void>;
}

/** A sidecar's audit half: its spool and log, shipping to the controller as startKubernetesSidecar wires it. */
function sidecar(who: AgentIdentity, stream = streamOf(who), server = controller): Sidecar {
  const spool = AuditSpool.open({ dir: mkdtempSync(join(dir, "spool-")), stream, chainKey: keys.chainKey });
  const audit = new AuditLog({ spool, keys, checkpointEvery: 40, checkpointIntervalMs: 3_600_000, storeArgumentValues: false });
  const sink = new ControllerAuditSink({ controllerUrl: server.url, tokenFile: server.tokenFile(dir, who), timeoutMs: 2000 });
  const observed = { failures: [] as Error[], records: 0 };
  const observer: ShipperObserver = { failed: (e) => observed.failures.push(e), shipped: (r) => (observed.records += r) };
  const shipper = new AuditShipper({ spool, store: sink, log, intervalMs: 50, lingerMs: 5, retryInitialMs: 20, retryMaxMs: 200, observer });
  audit.onCheckpoint(() => shipper.wake());
  return {
    spool,
    audit,
    sink,
    shipper,
    observed,
    async close() {
      await audit.close();
      await shipper.close();
      await sink.close();
    },
  };
}

async function append(s: Sidecar, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, k) => s.audit.append(event(i + k))));
}

async function stored(stream: string): Promise<{ records: number; checkpoints: number }> {
  const q = async (table: string): Promise<number> =>
    (await (controller.store as NonNullable<AuditIngestServer["store"]>).pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE stream = $1`, [stream])).rows[0]?.n ?? 0;
  return { records: await q("intentgate_audit_records"), checkpoints: await q("intentgate_audit_checkpoints") };
}

interface VerifyReport {
  ok: boolean;
  mac_checked: boolean;
  streams: Array<{ stream: string; records: number; checkpoints: { verified: number }; break: unknown }>;
}

/** `intentgate audit verify` on the controller's database, for one stream. */
function verify(stream: string): VerifyReport["streams"][number] {
  const r = cliIn(dir).cli(["audit", "verify", "--database", postgres.url, "--stream", stream, "--keys", keyFile]);
  assert.equal(r.status, 0, `audit verify: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as VerifyReport;
  assert.equal(report.ok, true);
  assert.equal(report.mac_checked, true);
  return report.streams[0] as VerifyReport["streams"][number];
}

async function post(path: string, who: AgentIdentity | undefined, body: string, type = "application/x-ndjson"): Promise<{ status: number; error: { code: string; conflicts?: unknown } }> {
  const token = who === undefined ? "nobody" : readFileSync(controller.tokenFile(dir, who), "utf8").trim();
  const res = await request(`${controller.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": type }, body });
  const parsed = (await res.body.json()) as { error: { code: string; conflicts?: unknown } };
  return { status: res.statusCode, error: parsed.error };
}

describe("shipping to the controller", () => {
  test("records and checkpoints shipped over the ingest API land in PostgreSQL, the spool empties, and audit verify passes", async () => {
    const s = sidecar(pod("agent-a-7d9f"));
    await s.shipper.start();
    await append(s, 130);
    await s.audit.checkpoint();
    await s.shipper.drain();
    assert.deepEqual(await stored(s.spool.stream), { records: 130, checkpoints: 4 });
    assert.equal(s.spool.pendingBytes(), 0);
    assert.deepEqual(s.observed.failures, []);
    await s.close();
    const report = verify(s.spool.stream);
    assert.equal(report.records, 130);
    assert.equal(report.checkpoints.verified, (await stored(s.spool.stream)).checkpoints);
  });

  test("a pod cannot write another pod's stream, nor records of another tenant or agent: 403, nothing stored", async () => {
    const podA = pod("agent-a-7d9f");
    const podB = pod("agent-a-x2k4");
    const mine = streamOf(podA);
    const lines = chainedLines(mine, 3, keys, undefined, event).lines.join("\n") + "\n";
    const refused = await post("/v1/audit/records", podB, lines);
    assert.equal(refused.status, 403);
    assert.equal(refused.error.code, "audit_stream_forbidden");
    const checkpoint = await post("/v1/audit/checkpoints", podB, canonicalize({ hash: "0".repeat(64), key_id: keys.keyId, schema: "intentgate.audit-checkpoint/v1", seq: 1, signature: "x", stream: mine, time: new Date().toISOString() }) + "\n");
    assert.equal(checkpoint.status, 403);
    // Its own stream, but records that name someone else.
    for (const overrides of [{ agent: `${NS}/agent-b` }, { tenant: "team-b" }]) {
      const other = chainedLines(streamOf(podB), 2, keys, undefined, (i) => decisionEvent(i, { tenant: TENANT, agent: AGENT, ...overrides })).lines;
      const r = await post("/v1/audit/records", podB, other.join("\n") + "\n");
      assert.equal(r.status, 403, JSON.stringify(overrides));
    }
    // One foreign line spoils the batch: the pod's own lines in it are not stored either.
    const own = streamOf(podB);
    const mixed = [...chainedLines(own, 2, keys, undefined, event).lines, ...chainedLines(mine, 1, keys, undefined, event).lines];
    assert.equal((await post("/v1/audit/records", podB, mixed.join("\n") + "\n")).status, 403);
    assert.deepEqual(await stored(mine), { records: 0, checkpoints: 0 });
    assert.deepEqual(await stored(own), { records: 0, checkpoints: 0 });
    // A token bound to no pod, or naming no pod UID, owns no stream; an unknown token is not let in at all.
    for (const unbound of [{ ...podA, podName: undefined }, { ...podA, podUid: undefined }]) {
      const r = await post("/v1/audit/records", unbound as unknown as AgentIdentity, lines);
      assert.equal(r.status, 403);
      assert.equal(r.error.code, "audit_pod_unknown");
    }
    assert.equal((await post("/v1/audit/records", undefined, lines)).status, 401);
    assert.deepEqual(await stored(mine), { records: 0, checkpoints: 0 });
  });

  test("a later pod of the same name cannot write its predecessor's stream, nor a random-suffix stream under its name: 403", async () => {
    const earlier = pod("agent-a-0");
    const later = pod("agent-a-0");
    const stream = streamOf(earlier);
    const { lines, head } = chainedLines(stream, 2, keys, undefined, event);
    assert.equal((await post("/v1/audit/records", earlier, lines.join("\n") + "\n")).status, 200);
    // The rest of the chain, MAC-valid (every sidecar of the tenant holds its chain key), from the later pod.
    const next = chainedLines(stream, 2, keys, head, event).lines;
    const refused = await post("/v1/audit/records", later, next.join("\n") + "\n");
    assert.equal(refused.status, 403);
    assert.equal(refused.error.code, "audit_stream_forbidden");
    const oldStyle = podStreamPrefix(TENANT, NS, "agent-a-0") + "1a2b3c4d";
    for (const who of [earlier, later]) assert.equal((await post("/v1/audit/records", who, chainedLines(oldStyle, 1, keys, undefined, event).lines[0] + "\n")).status, 403);
    assert.deepEqual(await stored(stream), { records: 2, checkpoints: 0 });
    assert.deepEqual(await stored(oldStyle), { records: 0, checkpoints: 0 });
  });

  test("a shipper whose spool holds another pod's stream is refused and acknowledges nothing", async () => {
    const s = sidecar(pod("agent-a-0"), streamOf(pod("agent-a-0")));
    await append(s, 5);
    await assert.rejects(s.shipper.drain(), /HTTP 403 audit_stream_forbidden/);
    assert.ok(s.spool.pendingBytes() > 0);
    assert.deepEqual(await stored(s.spool.stream), { records: 0, checkpoints: 0 });
    await s.close();
  });

  test("lines that disagree with stored ones: 409 with the conflicting (stream, seq), nothing of the batch stored", async () => {
    const podA = pod("agent-a-7d9f");
    const stream = streamOf(podA);
    const original = chainedLines(stream, 3, keys, undefined, event).lines;
    assert.equal((await post("/v1/audit/records", podA, original.join("\n") + "\n")).status, 200);
    // Seq 1-5 of a different chain: 1-3 collide with what is stored, 4-5 are new.
    const forged = chainedLines(stream, 5, keys, undefined, event).lines;
    const r = await post("/v1/audit/records", podA, forged.join("\n") + "\n");
    assert.equal(r.status, 409);
    assert.equal(r.error.code, "audit_conflict");
    assert.deepEqual(r.error.conflicts, [1, 2, 3].map((seq) => ({ table: "records", stream, seq })));
    assert.deepEqual(await stored(stream), { records: 3, checkpoints: 0 });
    // Re-sending the stored lines is not a conflict (a shipper restarting re-sends).
    assert.equal((await post("/v1/audit/records", podA, original.join("\n") + "\n")).status, 200);
    // The sidecar's client turns the 409 into the store's conflict error, which the shipper never acknowledges past.
    const sink = new ControllerAuditSink({ controllerUrl: controller.url, tokenFile: controller.tokenFile(dir, podA) });
    await assert.rejects(sink.insertRecords(forged), (e: unknown) => e instanceof AuditConflictError && e.conflicts.length === 3 && e.conflicts[0]?.seq === 1);
    await sink.close();
  });

  test("invalid bodies: 400 for lines that are not canonical audit lines, 415 for another content type, 413 over the limit", async () => {
    const podA = pod("agent-a-7d9f");
    const stream = streamOf(podA);
    const [line] = chainedLines(stream, 1, keys, undefined, event).lines as [string];
    const respaced = JSON.stringify(JSON.parse(line) as unknown, null, 1).replace(/\n/g, "");
    for (const body of ["not json\n", `${respaced}\n`, line, "[1,2]\n", `${canonicalize({ agent: AGENT, stream, tenant: TENANT })}\n`]) {
      const r = await post("/v1/audit/records", podA, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.error.code, "audit_invalid_line");
    }
    assert.equal((await post("/v1/audit/records", podA, `${line}\n`, "application/json")).status, 415);
    assert.equal((await post("/v1/audit/records", podA, "x".repeat(9 * 1024 * 1024))).status, 413);
    assert.deepEqual(await stored(stream), { records: 0, checkpoints: 0 });
  });
});

describe("outages", () => {
  test("the controller's database stops: the sidecar keeps spooling (503), and everything ships when it is back", async () => {
    const s = sidecar(pod("agent-a-7d9f"));
    await s.shipper.start();
    await append(s, 50);
    assert.ok(await eventually(async () => (await stored(s.spool.stream)).records === 50));
    postgres.stop();
    try {
      await append(s, 100);
      await s.audit.checkpoint();
      assert.ok(await eventually(async () => s.observed.failures.some((e) => /HTTP 503 audit_database_unavailable/.test(e.message))), "no 503 seen");
      assert.ok(s.spool.pendingBytes() > 0, "the spool let go of records the database never took");
    } finally {
      postgres.start();
    }
    assert.ok(await eventually(async () => s.spool.pendingBytes() === 0, 15_000), "the backlog never shipped");
    await s.close();
    const report = verify(s.spool.stream);
    assert.equal(report.records, 150);
    assert.ok(report.checkpoints.verified >= 3);
  });

  test("the controller is unreachable: the sidecar keeps spooling, and everything ships when it answers again", async () => {
    const s = sidecar(pod("agent-a-7d9f"));
    await s.shipper.start();
    await append(s, 20);
    assert.ok(await eventually(async () => s.spool.pendingBytes() === 0));
    await controller.pause();
    try {
      await append(s, 60);
      assert.ok(await eventually(async () => s.observed.failures.some((e) => /ECONNREFUSED|connect/i.test(e.message))), "no connection failure seen");
      assert.ok(s.spool.pendingBytes() > 0);
    } finally {
      await controller.resume();
    }
    assert.ok(await eventually(async () => s.spool.pendingBytes() === 0, 15_000), "the backlog never shipped");
    await s.close();
    assert.equal(verify(s.spool.stream).records, 80);
  });

  test("a controller without an audit database answers 501 and the sidecar keeps its records", async () => {
    const bare = await startAuditIngestServer(undefined, { [NS]: TENANT });
    try {
      const s = sidecar(pod("agent-a-7d9f"), undefined, bare);
      await s.shipper.start();
      await append(s, 10);
      assert.ok(await eventually(async () => s.observed.failures.some((e) => /no audit database/.test(e.message))));
      assert.ok(s.spool.pendingBytes() > 0);
      assert.equal(s.observed.records, 0);
      await s.close();
    } finally {
      await bare.close();
    }
  });
});
