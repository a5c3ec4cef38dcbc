// Root keys for capability tokens. A key ring holds several live keys, each named by a key id
// (`kid`), so keys rotate without downtime: mint with the active key, verify with any live one.
// Tenants never share a key: the key that signs a tenant's tokens is HKDF(master, tenant).
import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "./base64url.ts";

export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const TENANT_KEY_SALT = "intentgate.tenant-key.v1";
const SECRET_BYTES = 32;

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

export class KeyError extends Error {
  readonly code: "bad_key_file" | "unknown_kid" | "wrong_tenant";
  constructor(code: "bad_key_file" | "unknown_kid" | "wrong_tenant", message: string) {
    super(message);
    this.code = code;
  }
}

interface LiveKey {
  kid: string;
  scope: KeyScope;
  secret: Buffer;
  tenantKeys: Map<string, KeyObject>;
}

/** Derives a tenant's signing key from a master secret (HKDF-SHA256, RFC 5869). */
export function deriveTenantSecret(master: Uint8Array, tenant: string): Buffer {
  return Buffer.from(hkdfSync("sha256", master, Buffer.from(TENANT_KEY_SALT), Buffer.from(tenant, "utf8"), SECRET_BYTES));
}

export class KeyRing {
  readonly activeKid: string;
  readonly #keys: Map<string, LiveKey>;

  private constructor(activeKid: string, keys: Map<string, LiveKey>) {
    this.activeKid = activeKid;
    this.#keys = keys;
  }

  /** Validates a parsed key file; every problem is a KeyError with a clear message. */
  static fromFile(file: unknown): KeyRing {
    const fail = (message: string): never => {
      throw new KeyError("bad_key_file", message);
    };
    if (typeof file !== "object" || file === null) fail("key file must be a JSON object");
    const f = file as Partial<KeyFile>;
    if (f.version !== 1) fail("key file version must be 1");
    if (!Array.isArray(f.keys) || f.keys.length === 0) fail("key file has no keys");
    const keys = new Map<string, LiveKey>();
    for (const [i, entry] of (f.keys as KeyFileEntry[]).entries()) {
      if (typeof entry !== "object" || entry === null) fail(`keys[${i}] must be an object`);
      if (typeof entry.kid !== "string" || !KEY_ID_PATTERN.test(entry.kid)) fail(`keys[${i}].kid is not a valid key id`);
      if (keys.has(entry.kid)) fail(`keys[${i}].kid "${entry.kid}" appears twice`);
      const secret = typeof entry.secret === "string" ? decodeBase64url(entry.secret) : undefined;
      if (secret?.length !== SECRET_BYTES) fail(`keys[${i}].secret must be ${SECRET_BYTES} bytes of base64url`);
      let scope: KeyScope;
      if (entry.scope === "master") scope = { kind: "master" };
      else if (entry.scope === "tenant" && typeof entry.tenant === "string" && entry.tenant !== "") {
        scope = { kind: "tenant", tenant: entry.tenant };
      } else scope = fail(`keys[${i}].scope must be "master" or "tenant" with a tenant`);
      keys.set(entry.kid, { kid: entry.kid, scope, secret: secret as Buffer, tenantKeys: new Map() });
    }
    if (typeof f.active !== "string" || !keys.has(f.active)) fail("key file's active kid is not one of its keys");
    return new KeyRing(f.active as string, keys);
  }

  static generateFile(kid: string = newKeyId(), now = new Date()): KeyFile {
    return { version: 1, active: kid, keys: [newMasterEntry(kid, now)] };
  }

  kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** The HMAC key for a tenant under a kid, built once and kept. */
  tenantKey(kid: string, tenant: string): KeyObject {
    const key = this.#keys.get(kid);
    if (key === undefined) throw new KeyError("unknown_kid", `no live key has kid "${kid}"`);
    let object = key.tenantKeys.get(tenant);
    if (object !== undefined) return object;
    if (key.scope.kind === "tenant") {
      if (key.scope.tenant !== tenant) {
        throw new KeyError("wrong_tenant", `key "${kid}" belongs to tenant "${key.scope.tenant}", not "${tenant}"`);
      }
      object = createSecretKey(key.secret);
    } else {
      object = createSecretKey(deriveTenantSecret(key.secret, tenant));
    }
    if (key.tenantKeys.size < 100_000) key.tenantKeys.set(tenant, object);
    return object;
  }

  /** A key file holding only one tenant's derived keys: what a sidecar for that tenant needs. */
  exportTenant(tenant: string, now = new Date()): KeyFile {
    const keys: KeyFileEntry[] = [];
    for (const key of this.#keys.values()) {
      if (key.scope.kind === "tenant" && key.scope.tenant !== tenant) continue;
      const secret = key.scope.kind === "tenant" ? key.secret : deriveTenantSecret(key.secret, tenant);
      keys.push({ kid: key.kid, scope: "tenant", tenant, secret: encodeBase64url(secret), created_at: now.toISOString() });
    }
    if (!keys.some((k) => k.kid === this.activeKid)) throw new KeyError("wrong_tenant", `active key cannot sign for "${tenant}"`);
    return { version: 1, active: this.activeKid, keys };
  }
}

export function newMasterEntry(kid: string, now = new Date()): KeyFileEntry {
  return { kid, scope: "master", secret: encodeBase64url(randomBytes(SECRET_BYTES)), created_at: now.toISOString() };
}

export function newKeyId(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(3).toString("hex")}`;
}
