// Key files and key ids, shared by every holder of token keys. A key file holds several live keys,
// each named by a key id (`kid`), so keys rotate without downtime: mint with the active key, verify
// with any live one. A tenant's key is HKDF-SHA256(master, "intentgate.tenant-key.v1", tenant).
import { decodeBase64url } from "./base64url.ts";

export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const TENANT_KEY_SALT = "intentgate.tenant-key.v1";
export const SECRET_BYTES = 32;

/** A master key derives every tenant's key; a tenant key is one tenant's derived key alone. */
export type KeyScope = { kind: "master" } | { kind: "tenant"; tenant: string };

export interface KeyFileEntry {
  kid: string;
  scope: "master" | "tenant";
  tenant?: string;
  secret: string; // base64url, 32 bytes
  created_at: string;
}

export interface KeyFile {
  version: 1;
  active: string;
  keys: KeyFileEntry[];
}

export type KeyErrorCode = "bad_key_file" | "unknown_kid" | "wrong_tenant";

export class KeyError extends Error {
  readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ParsedKey {
  kid: string;
  scope: KeyScope;
  secret: Uint8Array;
}

export interface ParsedKeyFile {
  active: string;
  keys: ParsedKey[];
}

/** Validates a parsed key file; every problem is a KeyError("bad_key_file") with a clear message. */
export function parseKeyFile(file: unknown): ParsedKeyFile {
  const fail = (message: string): never => {
    throw new KeyError("bad_key_file", message);
  };
  if (typeof file !== "object" || file === null) fail("key file must be a JSON object");
  const f = file as Partial<KeyFile>;
  if (f.version !== 1) fail("key file version must be 1");
  if (!Array.isArray(f.keys) || f.keys.length === 0) fail("key file has no keys");
  const keys: ParsedKey[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of (f.keys as KeyFileEntry[]).entries()) {
    if (typeof entry !== "object" || entry === null) fail(`keys[${i}] must be an object`);
    if (typeof entry.kid !== "string" || !KEY_ID_PATTERN.test(entry.kid)) fail(`keys[${i}].kid is not a valid key id`);
    if (seen.has(entry.kid)) fail(`keys[${i}].kid "${entry.kid}" appears twice`);
    const secret = typeof entry.secret === "string" ? decodeBase64url(entry.secret) : undefined;
    if (secret?.length !== SECRET_BYTES) fail(`keys[${i}].secret must be ${SECRET_BYTES} bytes of base64url`);
    let scope: KeyScope;
    if (entry.scope === "master") scope = { kind: "master" };
    else if (entry.scope === "tenant" && typeof entry.tenant === "string" && entry.tenant !== "") {
      scope = { kind: "tenant", tenant: entry.tenant };
    } else scope = fail(`keys[${i}].scope must be "master" or "tenant" with a tenant`);
    seen.add(entry.kid);
    keys.push({ kid: entry.kid, scope, secret: secret as Uint8Array });
  }
  if (typeof f.active !== "string" || !seen.has(f.active)) fail("key file's active kid is not one of its keys");
  return { active: f.active as string, keys };
}

/** The key under `kid` that can sign for `tenant`, or a KeyError saying why there is none. */
export function keyForTenant(keys: ReadonlyMap<string, ParsedKey>, kid: string, tenant: string): ParsedKey {
  const key = keys.get(kid);
  if (key === undefined) throw new KeyError("unknown_kid", `no live key has kid "${kid}"`);
  if (key.scope.kind === "tenant" && key.scope.tenant !== tenant) {
    throw new KeyError("wrong_tenant", `key "${kid}" belongs to tenant "${key.scope.tenant}", not "${tenant}"`);
  }
  return key;
}
