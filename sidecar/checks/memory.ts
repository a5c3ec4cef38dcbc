// Check: memory provenance (on when the tenant's `memory.provenance` is). The agent presents the
// memory items that shaped the call in `params._meta["dev.intentgate/memory"]`; each must carry a
// valid signature by a trusted writer of this tenant over exactly the content presented, and be
// live. Runs after the capability check and before intent: it is local and cheap, so a call shaped
// by poisoned memory is refused before an extractor is asked anything (docs/spec/memory-provenance.md).
// `enforce` refuses on the first failed item (the code is that item's); `advisory` records every
// item's verdict and lets the policy decide. Either way the verdict is the policy's `input.memory`
// and goes to the audit record.
import { LRUCache } from "lru-cache";
import { verifyMemoryItem, type MemoryKeyLookup } from "../../wire/index.ts";
import { ALLOW, block, type Check, type MemoryItemVerdict } from "./types.ts";

export interface MemoryDeps {
  mode: "enforce" | "advisory";
  keys: MemoryKeyLookup;
  /** Trusted writers; absent: any writer whose key derives from this tenant's keys. */
  writers?: readonly string[] | undefined;
  maxItems: number;
  maxContentBytes: number;
  maxAgeSeconds?: number | undefined;
  skewSeconds: number;
  /** Verified signatures remembered (by everything they cover), so a repeated item costs no Ed25519 verification. */
  cacheEntries?: number;
}

export function createMemoryCheck(deps: MemoryDeps): Check {
  const verified = new LRUCache<string, true>({ max: deps.cacheEntries ?? 10_000, maxSize: 64 * 1024 * 1024, sizeCalculation: (_v, key) => key.length * 2 + 64 });
  const signatures = { has: (key: string) => verified.has(key), add: (key: string) => void verified.set(key, true) };
  const writers = deps.writers && [...deps.writers];
  // Everything but the tenant and the time is the same for every call: built once.
  const base = {
    skewSeconds: deps.skewSeconds,
    keys: deps.keys,
    ...(writers ? { writers } : {}),
    ...(deps.maxAgeSeconds !== undefined ? { maxAgeSeconds: deps.maxAgeSeconds } : {}),
    maxContentBytes: deps.maxContentBytes,
    verified: signatures,
  };

  return {
    stage: "memory",
    run(ctx) {
      const presented = ctx.memoryItems;
      let items: MemoryItemVerdict[];
      if (presented === undefined) items = [];
      else if (!Array.isArray(presented)) items = [malformed("list is not an array: params._meta[\"dev.intentgate/memory\"] must be an array of items")];
      else if (presented.length > deps.maxItems) items = [malformed(`list holds ${presented.length} items; at most ${deps.maxItems} may be presented with one call`)];
      else {
        const options = { ...base, tenant: ctx.tenant, now: Math.floor(ctx.now / 1000) };
        items = presented.map((value: unknown) => {
          const r = verifyMemoryItem(value, options);
          return r.ok ? { id: r.id, ok: true, code: null, reason: `signed by ${r.writer}`, writer: r.writer } : { id: r.id, ok: false, code: r.code, reason: r.message, writer: r.writer };
        });
      }
      ctx.memory = { checked: true, items };
      const failed = items.filter((i) => !i.ok);
      const first = failed[0];
      if (first === undefined || deps.mode === "advisory") return ALLOW;
      const more = failed.length > 3 ? `; and ${failed.length - 3} more` : "";
      return block(first.code ?? "memory_malformed", `${failed.slice(0, 3).map((i) => (i.id === "*" ? `memory ${i.reason}` : `memory item ${i.id} ${i.reason}`)).join("; ")}${more}`);
    },
  };
}

/** A problem with the presented list as a whole, reported as one failed item "*". */
function malformed(reason: string): MemoryItemVerdict {
  return { id: "*", ok: false, code: "memory_malformed", reason, writer: null };
}
