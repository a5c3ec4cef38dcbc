// Root keys for capability tokens. A key ring holds several live keys, each named by a key id
// (`kid`), so keys rotate without downtime: mint with the active key, verify with any live one.
// Tenants never share a key: the key that signs a tenant's tokens is HKDF(master, tenant).
// Key files are parsed by the SDK's code (sdk/typescript/src/keys.ts); this ring holds node:crypto
// KeyObjects so the gateway's HMACs stay synchronous and cheap.
import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { encodeBase64url } from "./base64url.ts";
import { KeyError, keyForTenant, parseKeyFile, SECRET_BYTES, TENANT_KEY_SALT, type KeyFile, type KeyFileEntry, type ParsedKey } from "../sdk/typescript/src/keys.ts";

export { KEY_ID_PATTERN, KeyError, type KeyFile, type KeyFileEntry, type KeyScope } from "../sdk/typescript/src/keys.ts";

interface LiveKey extends ParsedKey {
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
    const parsed = parseKeyFile(file);
    const keys = new Map<string, LiveKey>(parsed.keys.map((k) => [k.kid, { ...k, tenantKeys: new Map() }]));
    return new KeyRing(parsed.active, keys);
  }

  static generateFile(kid: string = newKeyId(), now = new Date()): KeyFile {
    return { version: 1, active: kid, keys: [newMasterEntry(kid, now)] };
  }

  kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** The HMAC key for a tenant under a kid, built once and kept. */
  tenantKey(kid: string, tenant: string): KeyObject {
    const key = keyForTenant(this.#keys, kid, tenant) as LiveKey;
    let object = key.tenantKeys.get(tenant);
    if (object !== undefined) return object;
    if (key.scope.kind === "tenant") {
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
