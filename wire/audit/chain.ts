// The audit chain. Each record's body (every field but `hash` and `mac`, including `prev_hash`) is
// canonicalised once; `hash` = SHA-256(body) links the stream for anyone, and `mac` = HMAC-SHA256
// (chain key, body) proves the record was written by a holder of the chain key, which the database
// does not have. Ed25519 checkpoints sign a stream's head hash so it can be checked offline.
import { createHash, createHmac, sign, verify as verifySignature, type KeyObject } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import { canonicalize } from "../jcs.ts";
import { AUDIT_SCHEMA, GENESIS_HASH, type AuditBody, type AuditCheckpoint, type AuditEvent, type AuditRecord } from "./record.ts";

export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

/** Builds the next record of a stream and its canonical line (what the spool and the database store). */
export function chainRecord(event: AuditEvent, stream: string, head: ChainHead, chainKey: KeyObject): { record: AuditRecord; line: string } {
  const body = { ...event, schema: AUDIT_SCHEMA, stream, seq: head.seq + 1, prev_hash: head.hash } as AuditBody;
  // Each top-level member is canonicalised once and reused for the line: JCS of the record is the
  // body's members with `hash` and `mac` added at their sorted places (UTF-16 order, as JCS sorts).
  const members = Object.keys(body)
    .sort()
    .map((key): [string, string] => [key, `${canonicalize(key)}:${canonicalize((body as unknown as Record<string, unknown>)[key])}`]);
  const text = `{${members.map((m) => m[1]).join(",")}}`;
  const hash = createHash("sha256").update(text).digest("hex");
  const mac = createHmac("sha256", chainKey).update(text).digest("hex");
  members.push(["hash", `"hash":"${hash}"`], ["mac", `"mac":"${mac}"`]);
  members.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const record = { ...body, hash, mac } as AuditRecord;
  return { record, line: `{${members.map((m) => m[1]).join(",")}}` };
}

/** Recomputes a record's hash and (with the key) its MAC from its body. */
export function recomputeLinks(record: AuditRecord, chainKey?: KeyObject): { hash: string; mac: string | undefined } {
  const body: Partial<AuditRecord> = { ...record };
  delete body.hash;
  delete body.mac;
  const text = canonicalize(body);
  return {
    hash: createHash("sha256").update(text).digest("hex"),
    mac: chainKey === undefined ? undefined : createHmac("sha256", chainKey).update(text).digest("hex"),
  };
}

export function signCheckpoint(head: { stream: string; seq: number; hash: string }, time: Date, keyId: string, privateKey: KeyObject): AuditCheckpoint {
  const unsigned = { schema: "intentgate.audit-checkpoint/v1" as const, stream: head.stream, seq: head.seq, hash: head.hash, time: time.toISOString(), key_id: keyId };
  const signature = encodeBase64url(sign(null, Buffer.from(canonicalize(unsigned)), privateKey));
  return { ...unsigned, signature };
}

export function checkpointSignatureValid(checkpoint: AuditCheckpoint, publicKey: KeyObject): boolean {
  const { signature, ...unsigned } = checkpoint;
  const bytes = decodeBase64url(signature);
  if (bytes === undefined) return false;
  try {
    return verifySignature(null, Buffer.from(canonicalize(unsigned)), publicKey, bytes);
  } catch {
    return false;
  }
}
