// The primitives, from Web Crypto only: HMAC-SHA256, SHA-256, HKDF-SHA256, Ed25519 and random bytes.
// globalThis.crypto exists in browsers, edge runtimes, Deno, Bun and Node >= 19; Node 18 has the
// same object as require("node:crypto").webcrypto, imported on first use.
import { decodeBase64url } from "../base64url.ts";
import { concatBytes, utf8 } from "../bytes.ts";

// Typed from the global, so the same source checks against the DOM library and against Node's types.
type WebCrypto = typeof globalThis.crypto;
type Key = Awaited<ReturnType<WebCrypto["subtle"]["importKey"]>>;

let found: Promise<WebCrypto> | undefined;

function webCrypto(): Promise<WebCrypto> {
  found ??= (async () => {
    const global = (globalThis as { crypto?: WebCrypto }).crypto;
    if (global?.subtle !== undefined) return global;
    // A computed specifier keeps bundlers for browsers from trying to resolve a Node module.
    const specifier = ["node", "crypto"].join(":");
    const mod = (await import(specifier)) as { webcrypto?: WebCrypto };
    if (mod.webcrypto?.subtle === undefined) throw new Error("no Web Crypto in this runtime");
    return mod.webcrypto;
  })();
  return found;
}

// Web Crypto's typings want ArrayBuffer-backed views; every view made here is.
const view = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => bytes as Uint8Array<ArrayBuffer>;

export async function randomBytes(length: number): Promise<Uint8Array> {
  return (await webCrypto()).getRandomValues(new Uint8Array(length));
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await (await webCrypto()).subtle.digest("SHA-256", view(data)));
}

export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const { subtle } = await webCrypto();
  const k = await subtle.importKey("raw", view(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, view(data)));
}

/** tag0 = HMAC(key, segment0); tagN = HMAC(tagN-1, segmentN). */
export async function hmacChain(key: Uint8Array, segments: readonly Uint8Array[]): Promise<Uint8Array> {
  let tag = key;
  for (const segment of segments) tag = await hmacSha256(tag, segment);
  return tag;
}

/** HKDF-SHA256 (RFC 5869) with UTF-8 salt and info. */
export async function hkdfSha256(ikm: Uint8Array, salt: string, info: string, length: number): Promise<Uint8Array> {
  const { subtle } = await webCrypto();
  const k = await subtle.importKey("raw", view(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: view(utf8(salt)), info: view(utf8(info)) }, k, length * 8);
  return new Uint8Array(bits);
}

// RFC 8410 PKCS#8 wrapper around a raw 32-byte Ed25519 seed: the only way Web Crypto imports one.
const PKCS8_ED25519_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

async function ed25519PrivateKey(seed: Uint8Array): Promise<Key> {
  const { subtle } = await webCrypto();
  return subtle.importKey("pkcs8", view(concatBytes(PKCS8_ED25519_PREFIX, seed)), { name: "Ed25519" }, true, ["sign"]);
}

/** The raw 32-byte public key of an Ed25519 seed. */
export async function ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array> {
  const { subtle } = await webCrypto();
  const jwk = await subtle.exportKey("jwk", await ed25519PrivateKey(seed));
  const raw = decodeBase64url(jwk.x ?? "");
  if (raw?.length !== 32) throw new Error("Ed25519 public key export failed");
  return raw;
}

export async function ed25519Sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const { subtle } = await webCrypto();
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, await ed25519PrivateKey(seed), view(message)));
}

export async function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const { subtle } = await webCrypto();
  const key = await subtle.importKey("raw", view(publicKey), { name: "Ed25519" }, false, ["verify"]);
  return subtle.verify({ name: "Ed25519" }, key, view(signature), view(message));
}
