// `intentgate memory` as a writer runs it (the real CLI in a child process), and the items it signs
// presented to a running sidecar.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startGateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";
import { cliIn, type Run } from "../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "intentgate-memory-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const { cli, ok } = cliIn(dir);
function oneLineError(r: Run, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

const KEYS = join(dir, "keys.json");
ok(["keys", "generate", "--out", KEYS, "--kid", "k1"]);
const CONTENT = "Acme Corp IBAN: NL12ACME0123456";
const sign = (extra: string[] = [], keys = KEYS): Record<string, unknown> =>
  JSON.parse(ok(["memory", "sign", "--keys", keys, "--tenant", "acme", "--writer", "crm-sync", "--id", "mem-001", ...extra])) as Record<string, unknown>;

void test("sign prints the item (hash, never the content); verify accepts it with its content and refuses other content", () => {
  const item = sign(["--content", CONTENT]);
  assert.deepEqual(Object.keys(item).sort(), ["content_sha256", "id", "kid", "signature", "tenant", "writer", "written_at"]);
  assert.equal(item["kid"], "k1");
  const report = JSON.parse(ok(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify(item), "--content", CONTENT])) as Record<string, unknown>;
  assert.equal(report["valid"], true);
  assert.equal(report["writer"], "crm-sync");
  const refused = cli(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify(item), "--content", "Acme Corp IBAN: NL00ATTACKER"]);
  oneLineError(refused, 1, /^intentgate: refused: memory_altered: /);
  assert.equal((JSON.parse(refused.stdout) as { code: string }).code, "memory_altered");
  oneLineError(cli(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify({ id: "mem-002", content: "x" })]), 1, /memory_unsigned/);
  oneLineError(cli(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify(item), "--content", CONTENT, "--tenant", "globex"]), 1, /memory_foreign_tenant/);
  oneLineError(cli(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify(item), "--content", CONTENT, "--writer", "kb-indexer"]), 1, /memory_untrusted_writer/);
});

void test("--content-file, --ttl, --with-content and the item on stdin", () => {
  const file = join(dir, "entry.txt");
  writeFileSync(file, "Ünïcode entry\nsecond line\n");
  const item = sign(["--content-file", file, "--ttl", "1h", "--with-content"]);
  assert.equal(item["expires_at"], (item["written_at"] as number) + 3600);
  assert.equal(item["content"], "Ünïcode entry\nsecond line\n");
  assert.equal((JSON.parse(ok(["memory", "verify", "--keys", KEYS, "--item", "-"], JSON.stringify(item))) as { valid: boolean }).valid, true);
  oneLineError(cli(["memory", "sign", "--keys", KEYS, "--tenant", "acme", "--writer", "w", "--id", "x", "--content", "a", "--content-file", file]), 2, /not both/);
  oneLineError(cli(["memory", "sign", "--keys", KEYS, "--tenant", "acme", "--writer", "w", "--id", "x"]), 2, /--content or --content-file/);
  oneLineError(cli(["memory", "sign", "--keys", KEYS, "--tenant", "acme", "--writer", "no spaces", "--id", "x", "--content", "a"]), 2, /bad_writer/);
  oneLineError(cli(["memory", "sign", "--keys", KEYS, "--tenant", "acme", "--writer", "w", "--id", "x", "--content", "a", "--ttl", "soon"]), 2, /--ttl/);
});

void test("writer-key: a writer gets a 0600 file with only its own key; the public half verifies but cannot sign", () => {
  const writerFile = join(dir, "crm-sync.key.json");
  const publicFile = join(dir, "crm-sync.pub.json");
  ok(["memory", "writer-key", "--keys", KEYS, "--tenant", "acme", "--writer", "crm-sync", "--out", writerFile]);
  ok(["memory", "writer-key", "--keys", KEYS, "--tenant", "acme", "--writer", "crm-sync", "--out", publicFile, "--public"]);
  assert.equal(statSync(writerFile).mode & 0o777, 0o600);
  const item = sign(["--content", CONTENT], writerFile);
  assert.equal((JSON.parse(ok(["memory", "verify", "--keys", publicFile, "--item", JSON.stringify(item), "--content", CONTENT])) as { valid: boolean }).valid, true);
  assert.equal((JSON.parse(ok(["memory", "verify", "--keys", KEYS, "--item", JSON.stringify(item), "--content", CONTENT])) as { valid: boolean }).valid, true, "the ring derives the same key");
  oneLineError(cli(["memory", "sign", "--keys", publicFile, "--tenant", "acme", "--writer", "crm-sync", "--id", "x", "--content", "a"]), 2, /public key only/);
  oneLineError(cli(["memory", "sign", "--keys", writerFile, "--tenant", "acme", "--writer", "kb-indexer", "--id", "x", "--content", "a"]), 2, /holds the key of writer "crm-sync"/);
  oneLineError(cli(["memory", "writer-key", "--keys", KEYS, "--tenant", "acme", "--writer", "crm-sync", "--out", writerFile]), 2, /already exists/);
});

void test("an item signed with the CLI is accepted by a sidecar holding only the tenant's derived keys", async () => {
  const upstream = await startRecordingUpstream();
  const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url, config: { memory: { provenance: true } } });
  try {
    // The sidecar's keys.json is its own master file; the writer derives from it via a tenant-scoped export.
    const tenantKeys = join(dir, "acme-keys.json");
    ok(["keys", "derive", "--keys", join(gw.dir, "keys.json"), "--tenant", "acme", "--out", tenantKeys]);
    const item = JSON.parse(ok(["memory", "sign", "--keys", tenantKeys, "--tenant", "acme", "--writer", "crm-sync", "--id", "mem-001", "--content", CONTENT, "--with-content"])) as object;
    const send = async (memory: unknown[]): Promise<string> =>
      outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/payments`, toolCall(1, "transfer", { amount: 1, currency: "EUR", iban: "NL12ACME0123456" }, { "dev.intentgate/memory": memory }), gw.mint()));
    assert.equal(await send([item]), "allowed");
    assert.equal(await send([{ ...item, content: "Acme Corp IBAN: NL00ATTACKER" }]), "memory_altered");
    assert.equal(upstream.requests.length, 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
