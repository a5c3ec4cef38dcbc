// Runs the real CLI as a child process (the Node running the tests), in a temporary directory.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cliIn, type Run } from "../test/support/cli.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "intentgate-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const { cli, ok } = cliIn(dir);
function assertOneLineError(r: Run, what: string): void {
  assert.notEqual(r.status, 0, `${what} exits non-zero`);
  assert.equal(r.stderr.endsWith("\n") && r.stderr.trimEnd().split("\n").length, 1, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, /^intentgate: /, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|\.ts:\d+/, `${what}: no stack trace`);
}

const KEYS = join(dir, "keys.json");
ok(["keys", "generate", "--out", KEYS, "--kid", "k-first"]);
const ROOT = ok(["token", "mint", "--keys", KEYS, "--tenant", "acme", "--agent", "agent-7", "--tools", "fs.read_*", "--ttl", "1h"]).trim();
const HOP = ok(["token", "attenuate", "--token", ROOT, "--tools", "fs.read_file", "--arg", "path under /data"]).trim();
const verifyJson = (r: Run): Record<string, unknown> => JSON.parse(r.stdout) as Record<string, unknown>;

void test("keys generate writes the key file with mode 0600 and refuses to overwrite it", () => {
  assert.equal(statSync(KEYS).mode & 0o777, 0o600);
  const before = readFileSync(KEYS, "utf8");
  assertOneLineError(cli(["keys", "generate", "--out", KEYS]), "generate over an existing file");
  assert.equal(readFileSync(KEYS, "utf8"), before, "file untouched");
  const other = join(dir, "forced.json");
  ok(["keys", "generate", "--out", other]);
  const first = readFileSync(other, "utf8");
  ok(["keys", "generate", "--out", other, "--force"]);
  assert.notEqual(readFileSync(other, "utf8"), first);
  assert.equal(statSync(other).mode & 0o777, 0o600);
});

void test("mint, attenuate and verify round trip, also with the token on stdin", () => {
  assert.match(ROOT, /^igt1\.[\w-]+(\.[\w-]+)+$/);
  const report = verifyJson(cli(["token", "verify", "--keys", KEYS, "--token", HOP, "--tool", "fs.read_file", "--args", '{"path":"/data/r\u00e9sum\u00e9.txt"}']));
  assert.equal(report["valid"], true);
  assert.equal(report["covers"], "fs.read_file");
  assert.equal(verifyJson(cli(["token", "verify", "--keys", KEYS, "--token", "-"], `${HOP}\n`))["valid"], true);
});

void test("verify exits 1 with a JSON reason when the tool or its arguments are not covered", () => {
  for (const [tool, args, code] of [["fs.write_file", "{}", "tool_not_allowed"], ["fs.read_file", '{"path":"/data/../etc/passwd"}', "argument_violation"]]) {
    const r = cli(["token", "verify", "--keys", KEYS, "--token", HOP, "--tool", tool as string, "--args", args as string]);
    assert.equal(r.status, 1);
    const report = verifyJson(r);
    assert.equal(report["valid"], false);
    assert.equal(report["code"], code);
    assert.equal(typeof report["reason"], "string");
    assertOneLineError(r, `uncovered ${tool}`);
  }
});

void test("bad input prints one line on stderr, no stack trace, and exits non-zero", () => {
  const tenantKeys = join(dir, "tenant-acme.json");
  ok(["keys", "derive", "--keys", KEYS, "--tenant", "acme", "--out", tenantKeys]);
  writeFileSync(join(dir, "not-json.json"), "{ nope");
  writeFileSync(join(dir, "v2.json"), JSON.stringify({ version: 2, active: "k", keys: [] }));
  const cases: [string, string[]][] = [
    ["malformed token", ["token", "verify", "--keys", KEYS, "--token", "igt1.garbage"]],
    ["malformed token to inspect", ["token", "inspect", "not-a-token"]],
    ["missing key file", ["token", "mint", "--keys", join(dir, "missing.json"), "--tenant", "acme", "--agent", "a"]],
    ["key file that is not JSON", ["token", "mint", "--keys", "not-json.json", "--tenant", "acme", "--agent", "a"]],
    ["invalid key file", ["keys", "list", "--keys", "v2.json"]],
    ["bad flag", ["token", "mint", "--keys", KEYS, "--tenant", "acme", "--agent", "a", "--tolls", "x"]],
    ["missing required flag", ["token", "verify", "--token", ROOT]],
    ["unknown command", ["tokens"]],
    ["bad --args JSON", ["token", "verify", "--keys", KEYS, "--token", HOP, "--tool", "fs.read_file", "--args", "{nope"]],
    ["--args not an object", ["token", "verify", "--keys", KEYS, "--token", HOP, "--tool", "fs.read_file", "--args", "[1]"]],
    ["bad --ttl", ["token", "mint", "--keys", KEYS, "--tenant", "acme", "--agent", "a", "--ttl", "1.5h"]],
    ["bad --arg operator", ["token", "attenuate", "--token", ROOT, "--arg", "amount about 10"]],
    ["bad --skew", ["token", "verify", "--keys", KEYS, "--token", ROOT, "--skew", "301"]],
    ["attenuate with nothing to add", ["token", "attenuate", "--token", ROOT]],
    ["tenant key file asked for another tenant", ["token", "mint", "--keys", tenantKeys, "--tenant", "globex", "--agent", "a"]],
  ];
  for (const [what, args] of cases) {
    const r = cli(args);
    assertOneLineError(r, what);
    assert.notEqual(r.status, 70, `${what} is not an internal error`);
  }
});

const HELP: [string[], RegExp][] = [
  [[], /authorization for AI agents/],
  [["keys"], /root keys that sign/],
  [["keys", "generate"], /new master key/],
  [["keys", "rotate"], /make it active/],
  [["keys", "retire"], /stop verifying/],
  [["keys", "derive"], /tenant's derived keys/],
  [["keys", "list"], /never the secrets/],
  [["token"], /mint, attenuate, verify/],
  [["token", "mint"], /mint a token/],
  [["token", "attenuate"], /narrow a token offline/],
  [["token", "verify"], /verify a token/],
  [["token", "inspect"], /WITHOUT verifying/],
  [["token", "revoke"], /revocation list/],
];

void test("--help of the program and of every subcommand exits 0 and describes it", () => {
  for (const [path, description] of HELP) {
    const out = ok([...path, "--help"]);
    assert.match(out, new RegExp(`^Usage: intentgate${path.map((p) => ` ${p}`).join("")} `), path.join(" "));
    assert.match(out, description, path.join(" "));
  }
});

void test("inspect decodes without verifying and says so", () => {
  const forged = `${HOP.slice(0, HOP.lastIndexOf("."))}.${"A".repeat(43)}`;
  for (const token of [HOP, forged]) {
    const report = JSON.parse(ok(["token", "inspect", token])) as Record<string, unknown>;
    assert.equal(report["verified"], false);
    assert.match(String(report["note"]), /NOT checked/);
    assert.equal((report["header"] as { tenant: string }).tenant, "acme");
  }
});

void test("revoke --token revokes the last hop only; revoke --root revokes every token from the root", () => {
  const list = join(dir, "revoked.json");
  const verifyWith = (token: string): Run => cli(["token", "verify", "--keys", KEYS, "--token", token, "--revocations", list]);
  ok(["token", "revoke", "--revocations", list, "--token", HOP, "--reason", "leaked"]);
  assert.equal(statSync(list).mode & 0o777, 0o600);
  const refused = verifyWith(HOP);
  assert.equal(refused.status, 1);
  assert.equal(verifyJson(refused)["code"], "revoked");
  assert.equal(verifyWith(ROOT).status, 0, "the parent still verifies");
  ok(["token", "revoke", "--revocations", list, "--token", HOP, "--root"]);
  assert.equal(verifyJson(verifyWith(ROOT))["code"], "revoked");
  assert.equal(cli(["token", "verify", "--keys", KEYS, "--token", ROOT]).status, 0, "without the list it still verifies");
});

void test("keys rotate keeps old tokens verifying until the old key is retired", () => {
  const keys = join(dir, "rotating.json");
  ok(["keys", "generate", "--out", keys, "--kid", "k-old"]);
  const old = ok(["token", "mint", "--keys", keys, "--tenant", "acme", "--agent", "a"]).trim();
  ok(["keys", "rotate", "--keys", keys, "--kid", "k-new"]);
  assert.equal(cli(["token", "verify", "--keys", keys, "--token", old]).status, 0);
  assertOneLineError(cli(["keys", "retire", "--keys", keys, "--kid", "k-new"]), "retiring the active key");
  ok(["keys", "retire", "--keys", keys, "--kid", "k-old"]);
  const r = cli(["token", "verify", "--keys", keys, "--token", old]);
  assert.equal(r.status, 1);
  assert.equal(verifyJson(r)["code"], "unknown_kid");
  const listed = ok(["keys", "list", "--keys", keys]);
  assert.match(listed, /"k-new"/);
  assert.doesNotMatch(listed, /secret/);
});

void test("a token piped on standard input after a delay is read whole ('-')", () => {
  const r = spawnSync("bash", ["-c", `(sleep 0.3; printf '%s' "$T") | "${process.execPath}" "${MAIN}" token inspect -`], { encoding: "utf8", env: { ...process.env, T: HOP } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /"verified": false/);
});

void test("keys rotate refuses a tenant key file (it would gain a master key)", () => {
  const tenantFile = join(dir, "tenant-rotate.json");
  ok(["keys", "derive", "--keys", KEYS, "--tenant", "acme", "--out", tenantFile]);
  assertOneLineError(cli(["keys", "rotate", "--keys", tenantFile]), "rotate of a tenant key file");
});

void test("audit keygen refuses a key id the sidecar could not load, and an existing public key file without --force", () => {
  assertOneLineError(cli(["audit", "keygen", "--out", join(dir, "ak-bad.json"), "--key-id", "bad id!"]), "bad audit key id");
  writeFileSync(join(dir, "existing.pem"), "keep me");
  assertOneLineError(cli(["audit", "keygen", "--out", join(dir, "ak-2.json"), "--public-out", join(dir, "existing.pem")]), "existing public key file");
  assert.equal(readFileSync(join(dir, "existing.pem"), "utf8"), "keep me");
});
