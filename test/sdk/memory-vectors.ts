// Memory-item vectors shared by both SDKs, built with the gateway's node:crypto (OpenSSL's Ed25519), so
// the TypeScript SDK's Web Crypto and the Python SDK's pure Ed25519 are checked against another
// implementation. `node test/sdk/memory-vectors.ts` rewrites the file; the test checks it is current.
import { writeFileSync } from "node:fs";
import { deriveWriterSeed, KeyRing, signMemoryItem, WriterKey, type KeyFile } from "../../wire/index.ts";
import { encodeBase64url } from "../../wire/base64url.ts";
import { rawPublicKey } from "../../wire/memory/keys.ts";

export const MEMORY_VECTORS_FILE = new URL("./vectors/memory-items.json", import.meta.url).pathname;

const KEY_FILE: KeyFile = {
  version: 1,
  active: "k1",
  keys: [{ kid: "k1", scope: "master", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", created_at: "2026-01-01T00:00:00.000Z" }],
};
const NOW = 1767225600;

const WRITERS = [
  { tenant: "acme", writer: "crm-sync", items: [{ id: "mem-001", content: "Acme Corp IBAN: NL12ACME0123456", writtenAt: NOW, expiresAt: 1798761600 }] },
  {
    tenant: "soci\u00e9t\u00e9-g\u00e9n\u00e9rale",
    writer: "kb/ingest@eu",
    items: [
      { id: "m\u00e9moire-\u00e9t\u00e9-\u65e5\u672c", content: "B\u00e9n\u00e9ficiaire : Zo\u00eb \u00c5ngstr\u00f6m-\u0141ukasiewicz \u2014 IBAN FR76 3000 6000 0112 3456 7890 189 \ud83c\udfe6", writtenAt: NOW + 60 },
      { id: "scratch-2", content: "", writtenAt: NOW, expiresAt: NOW + 3600 },
    ],
  },
];

export function buildMemoryVectors() {
  const ring = KeyRing.fromFile(KEY_FILE);
  return {
    description:
      "IntentGate memory-item vectors. writer seed = HKDF-SHA256(tenant key, \"intentgate.memory-writer.v1\", writer); the signature is Ed25519 over \"intentgate.memory-item.v1\\n\" + JCS(item without signature). Regenerate with: node test/sdk/memory-vectors.ts",
    key_file: KEY_FILE,
    now: NOW + 120,
    writers: WRITERS.map((w) => {
      const key = WriterKey.fromRing(ring, w.tenant, w.writer);
      return {
        tenant: w.tenant,
        writer: w.writer,
        kid: key.kid,
        seed: encodeBase64url(deriveWriterSeed(ring.tenantKey(key.kid, w.tenant), w.writer)),
        public_key: encodeBase64url(rawPublicKey(key.publicKey)),
        items: w.items.map((i) => ({
          content: i.content,
          signed: signMemoryItem(key, { id: i.id, content: i.content, writtenAt: i.writtenAt, ...(i.expiresAt === undefined ? {} : { expiresAt: i.expiresAt }) }),
        })),
      };
    }),
  };
}

export function renderMemoryVectors(): string {
  return `${JSON.stringify(buildMemoryVectors(), null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) writeFileSync(MEMORY_VECTORS_FILE, renderMemoryVectors());
