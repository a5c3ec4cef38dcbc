// Memory writer keys. Each (tenant, writer, kid) has its own Ed25519 key pair whose 32-byte seed is
// HKDF-SHA256 of the tenant's key under that kid (itself HKDF of the master key, wire/keys.ts) with
// a salt of its own and the writer's name as info. So writer keys live in the capability tokens'
// trust boundary: whoever holds the key ring (minting side, the tenant's sidecar) can derive them,
// and an agent, which holds neither, cannot sign memory. A writer can be handed a file with only
// its own private key; verification needs only public keys.
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import { KEY_ID_PATTERN, KeyError, type KeyRing } from "../keys.ts";
import { MEMORY_TENANT_MAX, MEMORY_WRITER_PATTERN } from "./item.ts";

export const WRITER_KEY_SALT = "intentgate.memory-writer.v1";
export const WRITER_KEY_FILE_KIND = "intentgate.memory-writer-key";

// RFC 8410: PKCS#8 and SPKI wrappers around a raw 32-byte Ed25519 seed / public key.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export class MemoryKeyError extends Error {
  readonly code: "bad_writer_key_file" | "bad_writer";
  constructor(code: "bad_writer_key_file" | "bad_writer", message: string) {
    super(message);
    this.code = code;
  }
}

/** The 32-byte Ed25519 seed of a writer, from the tenant's key under one kid. */
export function deriveWriterSeed(tenantKey: KeyObject, writer: string): Buffer {
  if (!MEMORY_WRITER_PATTERN.test(writer)) throw new MemoryKeyError("bad_writer", `writer "${writer}" must be 1-128 of A-Z a-z 0-9 . _ : @ / -`);
  return Buffer.from(hkdfSync("sha256", tenantKey, Buffer.from(WRITER_KEY_SALT, "utf8"), Buffer.from(writer, "utf8"), 32));
}

export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" }).subarray(SPKI_ED25519_PREFIX.length);
}

/** Where a verifier finds a writer's public key; undefined when it has none for that kid and tenant. */
export interface MemoryKeyLookup {
  publicKey(kid: string, tenant: string, writer: string): KeyObject | undefined;
}

export interface WriterKeyFile {
  version: 1;
  kind: typeof WRITER_KEY_FILE_KIND;
  tenant: string;
  writer: string;
  kid: string;
  /** base64url raw Ed25519 public key (32 bytes). */
  public_key: string;
  /** base64url Ed25519 seed (32 bytes); absent in a public-only file. */
  private_key?: string;
}

/** One writer's key under one kid: the private half when this holder may sign, the public half always. */
export class WriterKey {
  readonly tenant: string;
  readonly writer: string;
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly #privateKey: KeyObject | undefined;

  private constructor(tenant: string, writer: string, kid: string, publicKey: KeyObject, privateKey: KeyObject | undefined) {
    this.tenant = tenant;
    this.writer = writer;
    this.kid = kid;
    this.publicKey = publicKey;
    this.#privateKey = privateKey;
  }

  /** Derives a writer's key from a key ring (master or tenant-scoped); `kid` defaults to the active one. */
  static fromRing(ring: KeyRing, tenant: string, writer: string, kid: string = ring.activeKid): WriterKey {
    const privateKey = ed25519PrivateKeyFromSeed(deriveWriterSeed(ring.tenantKey(kid, tenant), writer));
    return new WriterKey(tenant, writer, kid, createPublicKey(privateKey), privateKey);
  }

  static fromFile(value: unknown): WriterKey {
    const fail = (message: string): never => {
      throw new MemoryKeyError("bad_writer_key_file", message);
    };
    if (typeof value !== "object" || value === null || Array.isArray(value)) fail("writer key file must be a JSON object");
    const f = value as Partial<WriterKeyFile>;
    if (f.version !== 1 || f.kind !== WRITER_KEY_FILE_KIND) fail(`writer key file needs version 1 and kind "${WRITER_KEY_FILE_KIND}"`);
    if (typeof f.tenant !== "string" || f.tenant === "" || f.tenant.length > MEMORY_TENANT_MAX) fail("writer key file: tenant is invalid");
    if (typeof f.writer !== "string" || !MEMORY_WRITER_PATTERN.test(f.writer)) fail("writer key file: writer is invalid");
    if (typeof f.kid !== "string" || !KEY_ID_PATTERN.test(f.kid)) fail("writer key file: kid is invalid");
    const pub = typeof f.public_key === "string" ? decodeBase64url(f.public_key) : undefined;
    if (pub?.length !== 32) fail("writer key file: public_key must be 32 bytes of base64url");
    let privateKey: KeyObject | undefined;
    if (f.private_key !== undefined) {
      const seed = typeof f.private_key === "string" ? decodeBase64url(f.private_key) : undefined;
      if (seed?.length !== 32) fail("writer key file: private_key must be 32 bytes of base64url");
      privateKey = ed25519PrivateKeyFromSeed(seed as Buffer);
      if (!rawPublicKey(createPublicKey(privateKey)).equals(pub as Buffer)) fail("writer key file: public_key does not belong to private_key");
    }
    return new WriterKey(f.tenant as string, f.writer as string, f.kid as string, ed25519PublicKeyFromRaw(pub as Buffer), privateKey);
  }

  get canSign(): boolean {
    return this.#privateKey !== undefined;
  }

  /** The private key, for signing; throws for a public-only key. */
  signingKey(): KeyObject {
    if (this.#privateKey === undefined) throw new MemoryKeyError("bad_writer_key_file", `the key of writer "${this.writer}" is public only: it cannot sign`);
    return this.#privateKey;
  }

  toFile(includePrivate: boolean): WriterKeyFile {
    const file: WriterKeyFile = {
      version: 1,
      kind: WRITER_KEY_FILE_KIND,
      tenant: this.tenant,
      writer: this.writer,
      kid: this.kid,
      public_key: encodeBase64url(rawPublicKey(this.publicKey)),
    };
    if (includePrivate) {
      const der = this.signingKey().export({ format: "der", type: "pkcs8" });
      file.private_key = encodeBase64url(der.subarray(PKCS8_ED25519_PREFIX.length));
    }
    return file;
  }

  /** A lookup that knows only this writer's public key. */
  lookup(): MemoryKeyLookup {
    return {
      publicKey: (kid, tenant, writer) => (kid === this.kid && tenant === this.tenant && writer === this.writer ? this.publicKey : undefined),
    };
  }
}

/**
 * Public keys derived from a key ring, built once per (kid, tenant, writer) and kept (bounded).
 * Unknown kids and tenants the ring cannot derive for have no key.
 */
export function ringWriterKeys(ring: KeyRing, maxEntries = 10_000): MemoryKeyLookup {
  const keys = new Map<string, KeyObject>();
  return {
    publicKey(kid, tenant, writer) {
      const id = `${kid}\u0000${tenant}\u0000${writer}`;
      const cached = keys.get(id);
      if (cached !== undefined) return cached;
      let key: KeyObject;
      try {
        key = WriterKey.fromRing(ring, tenant, writer, kid).publicKey;
      } catch (error) {
        if (error instanceof KeyError || error instanceof MemoryKeyError) return undefined;
        throw error;
      }
      if (keys.size >= maxEntries) keys.delete(keys.keys().next().value as string);
      keys.set(id, key);
      return key;
    },
  };
}
