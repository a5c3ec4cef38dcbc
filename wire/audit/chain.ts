// The audit chain. Each record's body (every field but `hash` and `mac`, including `prev_hash`) is
// canonicalised once; `hash` = SHA-256(body) links the stream for anyone, and `mac` = HMAC-SHA256
// (chain key, body) proves the record was written by a holder of the chain key, which the database
// does not have. Ed25519 checkpoints sign a stream's head hash so it can be checked offline.
import { createHmac, hash as oneShotHash, sign, verify as verifySignature, type KeyObject } from "node:crypto";
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
  // The body is canonicalised once. JCS of the record is the same text with `hash` and `mac`
  // spliced in where JCS puts them (members sorted by UTF-16 code units, which `<` compares).
  const values = body as unknown as Record<string, unknown>;
  const keys = Object.keys(values).sort();
  let text = "{";
  let hashAt = -1;
  let macAt = -1;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (hashAt < 0 && key > "hash") hashAt = text.length;
    if (macAt < 0 && key > "mac") macAt = text.length;
    text += `${i === 0 ? "" : ","}${canonicalize(key)}:${canonicalize(values[key])}`;
  }
  if (hashAt < 0) hashAt = text.length;
  if (macAt < 0) macAt = text.length;
  text += "}";
  const hash = sha256Hex(text);
  const mac = createHmac("sha256", chainKey).update(text).digest("hex");
  const record = { ...body, hash, mac } as AuditRecord;
  return { record, line: splice(text, [hashAt, `"hash":"${hash}"`], [macAt, `"mac":"${mac}"`]) };
}

/**
 * Inserts members into a canonical object's text at member boundaries: offsets in ascending order,
 * each at a "," or the closing "}", or 1 for the first place (the body is never empty: `prev_hash`,
 * `schema`, `seq` and `stream` follow).
 */
function splice(text: string, ...members: Array<[number, string]>): string {
  let out = "";
  let from = 0;
  for (const [at, member] of members) {
    out += `${text.slice(from, at)}${at === 1 ? "" : ","}${member}${at === 1 ? "," : ""}`;
    from = at;
  }
  return out + text.slice(from);
}

/** Recomputes a record's hash and (with the key) its MAC from its body. */
export function recomputeLinks(record: AuditRecord, chainKey?: KeyObject): { hash: string; mac: string | undefined } {
  const body: Partial<AuditRecord> = { ...record };
  delete body.hash;
  delete body.mac;
  const text = canonicalize(body);
  return {
    hash: sha256Hex(text),
    mac: chainKey === undefined ? undefined : createHmac("sha256", chainKey).update(text).digest("hex"),
  };
}

const sha256Hex = (text: string): string => oneShotHash("sha256", text, "hex");

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
