import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildConfig, ConfigError, loadConfigFile, overridesFromEnv } from "./load.ts";

const minimal = {
  tenant: "acme",
  agent: "agent-1",
  keys: "keys.json",
  upstreams: [{ name: "files", url: "http://127.0.0.1:1/mcp" }],
  policy: { bundle: "policy.wasm" },
  audit: { spool: "audit-spool", keys: "audit-keys.json" },
};

function problemsOf(raw: unknown, overrides = {}): string[] {
  try {
    buildConfig(raw, overrides, "/etc/intentgate");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

void test("a minimal configuration gets the documented defaults, absolute paths, and is frozen", () => {
  const c = buildConfig(minimal, {}, "/etc/intentgate");
  assert.equal(c.keys, "/etc/intentgate/keys.json");
  assert.equal(c.policy.mode, "enforce");
  assert.equal(c.limits.maxBodyBytes, 1048576);
  assert.equal(c.limits.maxDepth, 64);
  assert.equal(c.toolsList.filter, true);
  assert.equal(c.upstreams[0]?.connectTimeoutMs, 5000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.limits) && Object.isFrozen(c.upstreams[0]));
});

void test("every problem is reported at once, each with its path; unknown keys are rejected", () => {
  const problems = problemsOf({
    ...minimal,
    tenant: "",
    typo: 1,
    upstreams: [{ name: "Files", url: "ftp://x", extra: true }],
    limits: { maxDepth: "deep" },
    policy: { bundle: "p.wasm", mode: "audit" },
  });
  assert.deepEqual(problems.sort(), [
    '(root): unknown key "typo"',
    '/limits/maxDepth: must be integer',
    '/policy/mode: must be one of ["enforce","dryRun"]',
    "/tenant: must NOT have fewer than 1 characters",
    '/upstreams/0/name: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"',
    '/upstreams/0: unknown key "extra"',
    '/upstreams/0/url: must match pattern "^https?://"',
  ].sort());
});

void test("duplicate upstream names and an unknown default upstream are refused", () => {
  const problems = problemsOf({ ...minimal, upstreams: [minimal.upstreams[0], minimal.upstreams[0]], defaultUpstream: "nope" });
  assert.ok(problems.includes('/upstreams/1/name: "files" appears twice'));
  assert.ok(problems.includes('/defaultUpstream: "nope" is not one of the upstreams'));
});

void test("flags and environment override the file; a malformed override is reported like any problem", () => {
  const c = buildConfig(minimal, { listen: "0.0.0.0:9000", agent: "agent-9", upstreams: ["files=http://127.0.0.1:2/mcp", "extra=http://127.0.0.1:3/mcp"] }, "/x");
  assert.deepEqual(c.listen, { host: "0.0.0.0", port: 9000 });
  assert.equal(c.agent, "agent-9");
  assert.deepEqual(c.upstreams.map((u) => [u.name, u.url]), [["files", "http://127.0.0.1:2/mcp"], ["extra", "http://127.0.0.1:3/mcp"]]);
  assert.deepEqual(problemsOf(minimal, { admin: "nonsense" }), ['admin: "nonsense" is not host:port']);
  assert.deepEqual(overridesFromEnv({ INTENTGATE_LISTEN: "127.0.0.1:1", INTENTGATE_AGENT: "" }), { listen: "127.0.0.1:1" });
});

void test("YAML files load; duplicate YAML keys and unreadable files are clear errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-config-"));
  writeFileSync(join(dir, "ok.yaml"), "tenant: acme\nagent: a\nkeys: k.json\nupstreams:\n  - {name: files, url: 'http://127.0.0.1:1/mcp'}\npolicy: {bundle: p.wasm}\naudit: {spool: spool, keys: a.json}\n");
  assert.equal(loadConfigFile(join(dir, "ok.yaml")).keys, join(dir, "k.json"));
  writeFileSync(join(dir, "dup.yaml"), "tenant: a\ntenant: b\n");
  assert.throws(() => loadConfigFile(join(dir, "dup.yaml")), (e: unknown) => e instanceof ConfigError && /does not parse/.test(e.message));
  assert.throws(() => loadConfigFile(join(dir, "missing.yaml")), (e: unknown) => e instanceof ConfigError && /cannot read .*ENOENT/.test(e.message));
});
