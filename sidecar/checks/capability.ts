// Check 1: the capability token. Signature results are cached per token string (they never change
// for a given key ring); expiry, revocation and coverage are checked on every call.
import { LRUCache } from "lru-cache";
import { checkCoverage, checkLiveness, verifySignature, type KeyRing, type RevocationLookup, type VerifyResult } from "../../wire/index.ts";
import { ALLOW, block, type Check } from "./types.ts";

export interface CapabilityDeps {
  keys: () => KeyRing;
  revocations: RevocationLookup | undefined;
  skewSeconds: number;
}

export function createCapabilityCheck(deps: CapabilityDeps): Check {
  let ring = deps.keys();
  // Bounded by bytes as well as entries: a token may be up to 16 KiB.
  const newCache = (): LRUCache<string, VerifyResult> => new LRUCache({ max: 10_000, maxSize: 32 * 1024 * 1024, sizeCalculation: (_v, token) => token.length * 2 + 1024 });
  let cache = newCache();
  return {
    stage: "capability",
    run(ctx) {
      if (ctx.token === undefined) return block("token_missing", "no capability token was presented (Authorization: Bearer igt1.…)");
      const current = deps.keys();
      if (current !== ring) {
        ring = current;
        cache = newCache();
      }
      let signed = cache.get(ctx.token);
      if (signed === undefined) {
        signed = verifySignature(ctx.token, ring);
        cache.set(ctx.token, signed);
      }
      if (!signed.ok) return block(signed.code, signed.message);
      if (signed.header.tenant !== ctx.tenant) {
        return block("tenant_mismatch", `token belongs to tenant "${signed.header.tenant}", this gateway enforces "${ctx.tenant}"`);
      }
      const live = checkLiveness(signed, {
        now: Math.floor(ctx.now / 1000),
        skewSeconds: deps.skewSeconds,
        ...(deps.revocations ? { revocations: deps.revocations } : {}),
      });
      if (!live.ok) return block(live.code, live.message);
      const coverage = checkCoverage(signed.effective, {
        server: ctx.server,
        tool: ctx.tool,
        arguments: ctx.arguments,
        agent: ctx.agent,
        ...(ctx.prompt !== undefined ? { prompt: ctx.prompt } : {}),
      });
      if (!coverage.ok) return block(coverage.code, coverage.message);
      ctx.verified = { header: signed.header, effective: signed.effective };
      return ALLOW;
    },
  };
}
