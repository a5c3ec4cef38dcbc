// The SDK's token API over Web Crypto (async): keys, mint, attenuate, bind a prompt, inspect, verify.
// The format logic lives in build.ts, codec.ts, caveats.ts, effective.ts and coverage.ts, which the
// gateway runs too; only the primitives differ (Web Crypto here, node:crypto in the gateway).
import { encodeBase64url } from "../base64url.ts";
import { toHex, utf8 } from "../bytes.ts";
import { hkdfSha256, hmacChain, randomBytes, sha256 } from "../crypto/web.ts";
import { KeyError, keyForTenant, parseKeyFile, SECRET_BYTES, TENANT_KEY_SALT, type KeyFile, type ParsedKey } from "../keys.ts";
import { caveatProblem, type Caveat } from "./caveats.ts";
import { decodeToken, type TokenHeader } from "./codec.ts";
import { checkCoverageHashed, type CoverageResult, type ToolCall } from "./coverage.ts";
import { foldCaveats, type EffectiveConstraints } from "./effective.ts";
import { checkSignedToken, fail, finishAttenuation, finishMint, planAttenuation, planMint, type MintOptions, type VerifyResult } from "./build.ts";
import { checkLiveness, type LivenessOptions } from "./liveness.ts";

/** Derives a tenant's signing key from a master secret (HKDF-SHA256, RFC 5869). */
export function deriveTenantKey(master: Uint8Array, tenant: string): Promise<Uint8Array> {
  return hkdfSha256(master, TENANT_KEY_SALT, tenant, SECRET_BYTES);
}

/** The keys of a key file (`intentgate keys generate`, or a tenant's file from `keys derive`). */
export class TokenKeys {
  readonly activeKid: string;
  readonly #keys: Map<string, ParsedKey>;
  readonly #derived = new Map<string, Promise<Uint8Array>>();

  private constructor(activeKid: string, keys: ParsedKey[]) {
    this.activeKid = activeKid;
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
  }

  /** Validates a parsed key file; every problem is a KeyError. */
  static fromFile(file: KeyFile | unknown): TokenKeys {
    const parsed = parseKeyFile(file);
    return new TokenKeys(parsed.active, parsed.keys);
  }

  kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** The HMAC key for a tenant under a kid: the tenant key itself, or derived from the master key. */
  tenantKey(kid: string, tenant: string): Promise<Uint8Array> {
    const key = keyForTenant(this.#keys, kid, tenant);
    if (key.scope.kind === "tenant") return Promise.resolve(key.secret);
    const id = `${kid}\u0000${tenant}`;
    let derived = this.#derived.get(id);
    if (derived === undefined) {
      derived = deriveTenantKey(key.secret, tenant);
      this.#derived.set(id, derived);
    }
    return derived;
  }
}

/** A fresh 128-bit id (base64url) for a token or a hop. */
export async function newTokenId(): Promise<string> {
  return encodeBase64url(await randomBytes(16));
}

/** Mints a token with the tenant's key (`kid` defaults to the key file's active key). */
export async function mintToken(keys: TokenKeys, options: MintOptions): Promise<string> {
  const plan = planMint({ ...options, id: options.id ?? (await newTokenId()), kid: options.kid ?? keys.activeKid });
  return finishMint(plan.segments, await hmacChain(await keys.tenantKey(plan.header.kid, plan.header.tenant), plan.segments));
}

/**
 * Appends one attenuation hop: a `hop` caveat with a fresh id, then the given caveats. Needs no key:
 * the new tag is HMAC(old tag, caveat) for each appended caveat, so a hop can only narrow the token.
 */
export async function attenuateToken(token: string, caveats: readonly Caveat[], options: { hopId?: string } = {}): Promise<string> {
  const plan = planAttenuation(token, caveats, options.hopId ?? (await newTokenId()));
  return finishAttenuation(plan, await hmacChain(plan.decoded.tag, plan.added));
}

/** Lowercase hex SHA-256 of the prompt's UTF-8 bytes: what a `prompt` caveat holds. */
export async function promptSha256(prompt: string): Promise<string> {
  return toHex(await sha256(utf8(prompt)));
}

/** Attenuates a token so that it is only good with this exact user prompt (a `prompt` caveat), plus any other caveats. */
export async function bindPrompt(token: string, prompt: string, caveats: readonly Caveat[] = [], options: { hopId?: string } = {}): Promise<string> {
  return attenuateToken(token, [{ type: "prompt", sha256: await promptSha256(prompt) }, ...caveats], options);
}

export type Inspection =
  | { ok: true; header: TokenHeader; caveats: Caveat[]; effective: EffectiveConstraints; revocationIds: string[] }
  | { ok: false; code: "malformed" | "unsupported_version" | "invalid_caveat"; message: string };

/** Reads a token without any key: what it claims (nothing here proves the signature; see verifyToken). */
export function inspectToken(token: string): Inspection {
  const decoded = decodeToken(token);
  if (!decoded.ok) return decoded;
  const { header, caveats } = decoded.token;
  for (const [i, caveat] of caveats.entries()) {
    const problem = caveatProblem(caveat);
    if (problem !== undefined) return { ok: false, code: "invalid_caveat", message: `caveat ${i + 1}: ${problem}` };
  }
  const effective = foldCaveats(header, caveats as Caveat[]);
  return { ok: true, header, caveats: caveats as Caveat[], effective, revocationIds: [...effective.ids] };
}

export interface VerifyOptions extends LivenessOptions {
  keys: TokenKeys;
}

/** Verifies a token as the gateway does: structure, key, signature, caveats, time, revocation. */
export async function verifyToken(token: string, options: VerifyOptions): Promise<VerifyResult> {
  const decoded = decodeToken(token);
  if (!decoded.ok) return fail(decoded.code, decoded.message);
  const { header, segments } = decoded.token;
  let key: Uint8Array;
  try {
    key = await options.keys.tenantKey(header.kid, header.tenant);
  } catch (error) {
    if (error instanceof KeyError && (error.code === "unknown_kid" || error.code === "wrong_tenant")) return fail(error.code, error.message);
    throw error;
  }
  const signed = checkSignedToken(decoded.token, await hmacChain(key, segments));
  return signed.ok ? checkLiveness(signed, options) : signed;
}

/** Whether verified constraints cover a call (server, tool, arguments, agent, prompt). */
export async function checkCoverage(effective: EffectiveConstraints, call: ToolCall): Promise<CoverageResult> {
  return checkCoverageHashed(effective, call, call.prompt === undefined ? undefined : await promptSha256(call.prompt));
}

