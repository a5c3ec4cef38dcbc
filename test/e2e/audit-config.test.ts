// The `audit.database` block: exactly one of url, urlEnv or embedded; defaults; the embedded folder
// resolved against the configuration's folder; a urlEnv naming an unset variable stops start-up.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildConfig, ConfigError } from "../../sidecar/config/load.ts";
import { startGateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";

const minimal = {
  tenant: "acme",
  agent: "agent-1",
  keys: "keys.json",
  upstreams: [{ name: "files", url: "http://127.0.0.1:1/mcp" }],
  policy: { bundle: "policy.wasm" },
};

function problemsOf(database: unknown): string[] {
  try {
    buildConfig({ ...minimal, audit: { spool: "spool", keys: "audit-keys.json", database } }, {}, "/etc/intentgate");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

test("audit.database takes exactly one of url, urlEnv or embedded, and nothing unknown", () => {
  assert.deepEqual(problemsOf({ url: "postgres://db/audit" }), []);
  assert.deepEqual(problemsOf({ urlEnv: "AUDIT_DATABASE_URL" }), []);
  assert.deepEqual(problemsOf({ embedded: "audit-db" }), []);
  assert.deepEqual(problemsOf({}), ["/audit/database: give exactly one of url, urlEnv or embedded"]);
  assert.deepEqual(problemsOf({ url: "postgres://db/audit", embedded: "x" }), ["/audit/database: give exactly one of url, urlEnv or embedded (got url, embedded)"]);
  assert.deepEqual(problemsOf({ url: "mysql://db/audit" }), ['/audit/database/url: must match pattern "^postgres(ql)?://"']);
  assert.deepEqual(problemsOf({ urlEnv: "not a name" }), ['/audit/database/urlEnv: must match pattern "^[A-Za-z_][A-Za-z0-9_]*$"']);
  assert.deepEqual(problemsOf({ urlEnv: "X", password: "hunter2" }), ['/audit/database: unknown key "password"']);
});

test("defaults apply, and the embedded folder is resolved against the configuration's folder", () => {
  const c = buildConfig({ ...minimal, audit: { spool: "spool", keys: "k.json", database: { embedded: "audit-db" } } }, {}, "/etc/intentgate");
  assert.deepEqual(c.audit.database, { embedded: "/etc/intentgate/audit-db", shipBatch: 500, retryMaxMs: 30000 });
  assert.equal(buildConfig({ ...minimal, audit: { spool: "spool", keys: "k.json" } }, {}, "/etc/intentgate").audit.database, undefined);
});

test("a urlEnv that names an unset variable stops start-up with a message that says which", async () => {
  const upstream = await startRecordingUpstream();
  try {
    await assert.rejects(
      startGateway({ upstreamUrl: upstream.url, config: { audit: { spool: "audit-spool", keys: "audit-keys.json", database: { urlEnv: "INTENTGATE_TEST_UNSET_VARIABLE" } } }, start: { env: {} } }),
      /environment variable INTENTGATE_TEST_UNSET_VARIABLE is not set/,
    );
  } finally {
    await upstream.close();
  }
});
