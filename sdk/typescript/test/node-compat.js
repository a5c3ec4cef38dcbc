// Plain JavaScript (no type stripping), so any Node >= 18 can run it: loads the built SDK as ESM or CJS
// and checks it against the committed vectors. Usage: node node-compat.js esm|cjs
// Prints one JSON line {"ok":true,"checks":N} or the first mismatch, and exits 1 on a mismatch.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const format = process.argv[2];
const dist = new URL("../dist/", import.meta.url);
const sdk = format === "cjs" ? createRequire(import.meta.url)(new URL("cjs/index.cjs", dist).pathname) : await import(new URL("esm/index.js", dist).href);
const read = (path) => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
const tokens = read("../../../test/vectors/capability-tokens.json");
const memory = read("../../../test/sdk/vectors/memory-items.json");

let checks = 0;
const expect = (what, actual, expected) => {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) {
    console.log(JSON.stringify({ ok: false, what, actual, expected }));
    process.exit(1);
  }
  checks++;
};

const rings = Object.fromEntries(Object.entries(tokens.key_files).map(([name, file]) => [name, sdk.TokenKeys.fromFile(file)]));
for (const c of tokens.cases) {
  const h = c.header;
  const minted = await sdk.mintToken(rings.rotated, { tenant: h.tenant, subject: h.subject, issuer: h.issuer, caveats: c.caveats, issuedAt: h.issued_at, id: h.id, kid: h.kid });
  expect(`${c.name}: mint`, minted, c.tokens[0]);
  for (const [i, hop] of c.hops.entries()) expect(`${c.name}: hop ${i}`, await sdk.attenuateToken(c.tokens[i], hop.caveats, { hopId: hop.id }), c.tokens[i + 1]);
  for (const v of c.verify) {
    const revoked = new Set(v.revoked_ids ?? []);
    const result = await sdk.verifyToken(c.tokens[v.token_index], {
      keys: rings[v.key_file],
      now: v.now,
      ...(v.skew_seconds === undefined ? {} : { skewSeconds: v.skew_seconds }),
      ...(v.revoked_ids === undefined ? {} : { revocations: { isRevoked: (ids) => ids.some((id) => revoked.has(id)) } }),
    });
    expect(`${c.name}: verify at ${v.now}`, result.ok ? { ok: true, effective: result.effective } : { ok: false, code: result.code }, v.expect);
  }
}
for (const r of tokens.refused) {
  const result = await sdk.verifyToken(r.token, { keys: rings[r.key_file], now: r.now, ...(r.skew_seconds === undefined ? {} : { skewSeconds: r.skew_seconds }) });
  if (r.revoked_ids === undefined) expect(r.name, result.ok ? "ok" : result.code, r.expect.code);
}
const memoryKeys = sdk.TokenKeys.fromFile(memory.key_file);
for (const w of memory.writers) {
  const writer = await sdk.MemoryWriter.fromKeys(memoryKeys, w.tenant, w.writer, w.kid);
  expect(`${w.writer}: public key`, sdk.encodeBase64url(writer.publicKey), w.public_key);
  for (const item of w.items) {
    const s = item.signed;
    const signed = await writer.sign({ id: s.id, content: item.content, writtenAt: s.written_at, ...(s.expires_at === undefined ? {} : { expiresAt: s.expires_at }) });
    expect(`${s.id}: signature`, signed, s);
  }
}
console.log(JSON.stringify({ ok: true, checks, node: process.versions.node, format }));
