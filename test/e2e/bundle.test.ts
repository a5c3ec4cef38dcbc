// The esbuild bundle (what the images ship) starts on its own: --help, the controller's --help, and a sidecar in standalone mode
// that becomes ready and refuses a call without a token. scripts/test.sh builds dist/ before the tests.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AuditKeys } from "../../wire/audit/index.ts";
import { KeyRing } from "../../wire/index.ts";
import { ROOT } from "../support/gateway.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";

const BUNDLE = join(ROOT, "dist/intentgate.mjs");

test("the bundle exists and answers --help", () => {
  assert.ok(existsSync(BUNDLE), "dist/intentgate.mjs must be built (node scripts/build.ts)");
  const r = spawnSync(process.execPath, [BUNDLE, "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: intentgate/);
  assert.match(r.stdout, /sidecar/);
});

test("the bundle answers controller --help with the flags the chart sets through INTENTGATE_* variables", () => {
  const r = spawnSync(process.execPath, [BUNDLE, "controller", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: intentgate controller/);
  for (const flag of ["--webhook", "--tls-secret", "--webhook-config", "--lease-name", "--default-interception", "--allow-redirect", "--database-env"]) assert.ok(r.stdout.includes(flag), flag);
});

test("the bundled controller refuses to start without a cluster, with a clear error", () => {
  const env = { ...process.env };
  for (const name of ["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"]) delete env[name];
  const r = spawnSync(process.execPath, [BUNDLE, "controller"], { encoding: "utf8", env });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /not running in a pod: missing KUBERNETES_SERVICE_HOST/);
});

test("the bundled sidecar starts in standalone mode, with its embedded audit database, and enforces", async () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-bundle-"));
  writeFileSync(join(dir, "keys.json"), JSON.stringify(KeyRing.generateFile("k1")), { mode: 0o600 });
  writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("audit-bundle")), { mode: 0o600 });
  const upstream = await startRecordingUpstream();
  const config = {
    tenant: "t",
    agent: "a",
    listen: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    keys: "keys.json",
    upstreams: [{ name: "files", url: upstream.url }],
    policy: { bundle: join(ROOT, "policies/default/build/policy.wasm") },
    audit: { spool: "audit-spool", keys: "audit-keys.json", database: { embedded: "audit-db" } },
    logLevel: "info",
  };
  writeFileSync(join(dir, "gateway.json"), JSON.stringify(config));
  const child = spawn(process.execPath, [BUNDLE, "sidecar", "--config", join(dir, "gateway.json")], { stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr.on("data", (c: Buffer) => (logs += c.toString()));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    assert.ok(await eventually(async () => /sidecar listening/.test(logs), 15_000), `no start-up line in: ${logs}`);
    const line = logs.split("\n").find((l) => l.includes("sidecar listening")) as string;
    const { url, admin } = JSON.parse(line) as { url: string; admin: string };
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);
    assert.equal(outcomeOf(await postRpc(`${url}/mcp/files`, toolCall(1, "read_file"))), "token_missing");
    assert.equal(upstream.requests.length, 0);
    // The embedded audit database (PGlite) finds its wasm assets beside the bundle.
    assert.ok(await eventually(async () => /audit database schema is current/.test(logs), 15_000), `PGlite did not start: ${logs}`);
  } finally {
    child.kill("SIGTERM");
    await exited;
    await upstream.close();
  }
});
