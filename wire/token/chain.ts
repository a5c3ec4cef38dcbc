// The HMAC chain: tag0 = HMAC-SHA256(tenant key, header bytes); tagN = HMAC-SHA256(tagN-1, caveat N bytes).
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";

export function extendChain(tag: Buffer | KeyObject, segment: Uint8Array): Buffer {
  // A KeyObject key is several times cheaper for createHmac than a raw Buffer (measured in bench/tokens.ts).
  const key = Buffer.isBuffer(tag) ? createSecretKey(tag) : tag;
  return createHmac("sha256", key).update(segment).digest();
}

export function chainTag(key: KeyObject, segments: readonly Uint8Array[]): Buffer {
  let tag: Buffer | KeyObject = key;
  for (const segment of segments) tag = extendChain(tag, segment);
  return tag as Buffer;
}
