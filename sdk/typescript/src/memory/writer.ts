// Memory writer keys and items over Web Crypto (async). A writer's Ed25519 seed is
// HKDF-SHA256(tenant key, "intentgate.memory-writer.v1", writer): whoever holds the token keys can
// derive it, an agent cannot. A writer can also be handed a file with only its own key.
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import { sameBytes, toHex, utf8 } from "../bytes.ts";
import { ed25519PublicKey, ed25519Sign, ed25519Verify, hkdfSha256, sha256 } from "../crypto/web.ts";
import { KEY_ID_PATTERN } from "../keys.ts";
import type { TokenKeys } from "../token/api.ts";
import { checkMemoryItemTimes, CONTENT_ALTERED, precheckMemoryItem, SIGNATURE_ALTERED, signingText, UNKNOWN_KEY, type MemoryCheckOptions, type MemoryItemResult } from "./check.ts";
import { MEMORY_TENANT_MAX, MEMORY_WRITER_PATTERN, memoryItemProblem, memorySigningBytes, type MemoryItem, type UnsignedMemoryItem } from "./item.ts";

export const WRITER_KEY_SALT = "intentgate.memory-writer.v1";
export const WRITER_KEY_FILE_KIND = "intentgate.memory-writer-key";

export type MemoryKeyErrorCode = "bad_writer_key_file" | "bad_writer";

export class MemoryKeyError extends Error {
  readonly code: MemoryKeyErrorCode;
  constructor(code: MemoryKeyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
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

export interface ParsedWriterKeyFile {
  tenant: string;
  writer: string;
  kid: string;
  publicKey: Uint8Array;
  seed?: Uint8Array;
}

/** Validates a writer key file's fields (not yet that the public key is the seed's: the caller's primitives check that). */
export function parseWriterKeyFile(value: unknown): ParsedWriterKeyFile {
  const fail = (message: string): never => {
    throw new MemoryKeyError("bad_writer_key_file", message);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("writer key file must be a JSON object");
  const f = value as Partial<WriterKeyFile>;
  if (f.version !== 1 || f.kind !== WRITER_KEY_FILE_KIND) fail(`writer key file needs version 1 and kind "${WRITER_KEY_FILE_KIND}"`);
  if (typeof f.tenant !== "string" || f.tenant === "" || f.tenant.length > MEMORY_TENANT_MAX) fail("writer key file: tenant is invalid");
  if (typeof f.writer !== "string" || !MEMORY_WRITER_PATTERN.test(f.writer)) fail("writer key file: writer is invalid");
  if (typeof f.kid !== "string" || !KEY_ID_PATTERN.test(f.kid)) fail("writer key file: kid is invalid");
  const publicKey = typeof f.public_key === "string" ? decodeBase64url(f.public_key) : undefined;
  if (publicKey?.length !== 32) fail("writer key file: public_key must be 32 bytes of base64url");
  const parsed: ParsedWriterKeyFile = { tenant: f.tenant as string, writer: f.writer as string, kid: f.kid as string, publicKey: publicKey as Uint8Array };
  if (f.private_key !== undefined) {
    const seed = typeof f.private_key === "string" ? decodeBase64url(f.private_key) : undefined;
    if (seed?.length !== 32) fail("writer key file: private_key must be 32 bytes of base64url");
    parsed.seed = seed as Uint8Array;
  }
  return parsed;
}

/** Lowercase hex SHA-256 of the content's UTF-8 bytes: what an item's `content_sha256` holds. */
export async function contentSha256(content: string): Promise<string> {
  return toHex(await sha256(utf8(content)));
}

/** The 32-byte Ed25519 seed of a writer, from the tenant's key under one kid. */
export function deriveWriterSeed(tenantKey: Uint8Array, writer: string): Promise<Uint8Array> {
  if (!MEMORY_WRITER_PATTERN.test(writer)) throw new MemoryKeyError("bad_writer", `writer "${writer}" must be 1-128 of A-Z a-z 0-9 . _ : @ / -`);
  return hkdfSha256(tenantKey, WRITER_KEY_SALT, writer, 32);
}

export interface SignOptions {
  id: string;
  content: string;
  /** Unix seconds. */
  writtenAt: number;
  /** Unix seconds. */
  expiresAt?: number;
}

/** One writer's key under one kid: it signs memory items when it holds the seed. */
export class MemoryWriter {
  readonly tenant: string;
  readonly writer: string;
  readonly kid: string;
  readonly publicKey: Uint8Array;
  readonly #seed: Uint8Array | undefined;

  private constructor(tenant: string, writer: string, kid: string, publicKey: Uint8Array, seed: Uint8Array | undefined) {
    this.tenant = tenant;
    this.writer = writer;
    this.kid = kid;
    this.publicKey = publicKey;
    this.#seed = seed;
  }

  /** Derives a writer's key from the token keys (master or tenant-scoped); `kid` defaults to the active one. */
  static async fromKeys(keys: TokenKeys, tenant: string, writer: string, kid: string = keys.activeKid): Promise<MemoryWriter> {
    const seed = await deriveWriterSeed(await keys.tenantKey(kid, tenant), writer);
    return new MemoryWriter(tenant, writer, kid, await ed25519PublicKey(seed), seed);
  }

  /** Reads a writer key file (`intentgate memory writer-key`); a public-only file can verify but not sign. */
  static async fromFile(value: unknown): Promise<MemoryWriter> {
    const f = parseWriterKeyFile(value);
    if (f.seed !== undefined && !sameBytes(await ed25519PublicKey(f.seed), f.publicKey)) {
      throw new MemoryKeyError("bad_writer_key_file", "writer key file: public_key does not belong to private_key");
    }
    return new MemoryWriter(f.tenant, f.writer, f.kid, f.publicKey, f.seed);
  }

  get canSign(): boolean {
    return this.#seed !== undefined;
  }

  /** Builds and signs the record for one memory entry. The content itself is hashed, never kept. */
  async sign(options: SignOptions): Promise<MemoryItem> {
    if (this.#seed === undefined) throw new MemoryKeyError("bad_writer_key_file", `the key of writer "${this.writer}" is public only: it cannot sign`);
    const unsigned: UnsignedMemoryItem = {
      id: options.id,
      tenant: this.tenant,
      writer: this.writer,
      content_sha256: await contentSha256(options.content),
      written_at: options.writtenAt,
      kid: this.kid,
    };
    if (options.expiresAt !== undefined) unsigned.expires_at = options.expiresAt;
    const problem = memoryItemProblem({ ...unsigned, signature: "A".repeat(86) }, false);
    if (problem !== undefined) throw new TypeError(`cannot sign memory item: ${problem}`);
    const signature = encodeBase64url(await ed25519Sign(this.#seed, memorySigningBytes(unsigned)));
    return { ...unsigned, signature };
  }

  toFile(includePrivate: boolean): WriterKeyFile {
    const file: WriterKeyFile = {
      version: 1,
      kind: WRITER_KEY_FILE_KIND,
      tenant: this.tenant,
      writer: this.writer,
      kid: this.kid,
      public_key: encodeBase64url(this.publicKey),
    };
    if (includePrivate) {
      if (this.#seed === undefined) throw new MemoryKeyError("bad_writer_key_file", `the key of writer "${this.writer}" is public only`);
      file.private_key = encodeBase64url(this.#seed);
    }
    return file;
  }
}

export interface VerifyMemoryOptions extends MemoryCheckOptions {
  /** The raw Ed25519 public key of a writer under a kid for a tenant, or undefined when there is none. */
  publicKey(kid: string, tenant: string, writer: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/** Verifies one presented item (signed record plus `content`) as the gateway's memory check does. Never throws for bad input. */
export async function verifyMemoryItem(value: unknown, options: VerifyMemoryOptions): Promise<MemoryItemResult> {
  const checked = precheckMemoryItem(value, options);
  if (!("item" in checked)) return checked;
  const { item, fail } = checked;
  const publicKey = await options.publicKey(item.kid, item.tenant, item.writer);
  if (publicKey === undefined) return fail("memory_unknown_key", UNKNOWN_KEY(item.kid));
  if ((await contentSha256(item.content)) !== item.content_sha256) return fail("memory_altered", CONTENT_ALTERED);
  const signature = decodeBase64url(item.signature) as Uint8Array;
  if (!(await ed25519Verify(publicKey, utf8(signingText(checked.signedText)), signature))) return fail("memory_altered", SIGNATURE_ALTERED(item.writer));
  return checkMemoryItemTimes(checked, options);
}

/** What an agent presents on a call: the signed record plus the content it read. */
export function presentMemoryItem(item: MemoryItem, content: string): MemoryItem & { content: string } {
  return { ...item, content };
}
