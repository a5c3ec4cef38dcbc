// Memory writer keys. Each (tenant, writer, kid) has its own Ed25519 key pair whose 32-byte seed is
// HKDF-SHA256 of the tenant's key under that kid (itself HKDF of the master key, wire/keys.ts) with
// a salt of its own and the writer's name as info. So writer keys live in the capability tokens'
// trust boundary: whoever holds the key ring (minting side, the tenant's sidecar) can derive them,
// and an agent, which holds neither, cannot sign memory. A writer can be handed a file with only
// its own private key; verification needs only public keys. The derivation and the key file format are
// the SDK's too (sdk/typescript/src/memory/writer.ts); here the keys are node:crypto KeyObjects.
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from "node:crypto";
import { encodeBase64url } from "../base64url.ts";
import { KeyError, type KeyRing } from "../keys.ts";
import { MEMORY_WRITER_PATTERN } from "./item.ts";
import { MemoryKeyError, parseWriterKeyFile, WRITER_KEY_FILE_KIND, WRITER_KEY_SALT, type WriterKeyFile } from "../../sdk/typescript/src/memory/writer.ts";

export { MemoryKeyError, WRITER_KEY_FILE_KIND, WRITER_KEY_SALT, type WriterKeyFile } from "../../sdk/typescript/src/memory/writer.ts";

// RFC 8410: PKCS#8 and SPKI wrappers around a raw 32-byte Ed25519 seed / public key.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

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
    const f = parseWriterKeyFile(value);
    const privateKey = f.seed === undefined ? undefined : ed25519PrivateKeyFromSeed(f.seed);
    if (privateKey !== undefined && Buffer.compare(rawPublicKey(createPublicKey(privateKey)), f.publicKey) !== 0) {
      throw new MemoryKeyError("bad_writer_key_file", "writer key file: public_key does not belong to private_key");
    }
    return new WriterKey(f.tenant, f.writer, f.kid, ed25519PublicKeyFromRaw(f.publicKey), privateKey);
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
