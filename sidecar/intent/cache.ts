// Recommendations cached by prompt: the key is the SHA-256 of the tenant, agent and prompt (the
// prompt itself is not kept as a key), plus the catalog generation for extractors that read the
// catalog. Bounded in entries, each entry lives `ttlMs`. Concurrent calls with the same prompt share
// one extraction (lru-cache's fetch). Failures are not cached: the next call tries again.
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { IntentExtractor } from "../checks/intent.ts";
import type { IntentRecommendation } from "../checks/types.ts";

export interface CacheOptions {
  maxEntries: number;
  ttlMs: number;
  /** Changes when the extractor's answers may change for the same prompt (the tool catalog's generation). */
  generation?: () => number;
  /** The clock entries age by (milliseconds); performance.now by default. */
  now?: () => number;
}

type Request = Parameters<IntentExtractor["extract"]>[0];

export interface CachedExtractor extends IntentExtractor {
  /** Entries in the cache now (for tests and metrics). */
  readonly size: number;
}

export function createCachedExtractor(inner: IntentExtractor, options: CacheOptions): CachedExtractor {
  const cache = new LRUCache<string, IntentRecommendation, Request>({
    max: options.maxEntries,
    ttl: options.ttlMs,
    // An injected clock is read every time (lru-cache otherwise reuses a reading for 1 ms).
    ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    // Frozen: every call that hits the entry shares it, and the policy input must not be able to change it.
    fetchMethod: async (_key, _stale, { context }) => deepFreeze(await inner.extract(context)),
  });
  const generation = options.generation ?? (() => 0);
  return {
    async extract(request) {
      const key = createHash("sha256").update(`${request.tenant}\u0000${request.agent}\u0000${generation()}\u0000`).update(request.prompt, "utf8").digest("base64url");
      const value = await cache.fetch(key, { context: request });
      if (value === undefined) throw new Error("intent cache returned no value");
      return value;
    },
    get size() {
      return cache.size;
    },
  };
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (typeof v === "object" && v !== null) deepFreeze(v as object);
  return Object.freeze(value);
}
