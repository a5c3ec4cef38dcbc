// Builds the intent check's dependencies from the tenant's `intent` block, once, at start-up:
// the extractor (http, openai or builtin) behind the prompt cache, and whether the tool catalog is
// needed. A missing API key variable stops start-up, like a missing upstream credential.
import type { IntentDeps } from "../checks/intent.ts";
import type { IntentConfig } from "../config/types.ts";
import { createBuiltinExtractor } from "./builtin.ts";
import { createCachedExtractor } from "./cache.ts";
import type { ToolCatalog } from "./catalog.ts";
import { createHttpExtractor } from "./http.ts";
import { createOpenAiExtractor } from "./openai.ts";

export interface BuiltIntent {
  deps: IntentDeps;
  /** True when the extractor reads the tool catalog (so tools/list answers should be recorded). */
  usesCatalog: boolean;
  close(): Promise<void>;
}

export function buildIntent(config: IntentConfig, catalog: ToolCatalog, env: NodeJS.ProcessEnv): BuiltIntent {
  const e = config.extractor;
  if (config.mode === "off" || e === undefined) {
    return { deps: { extractor: undefined, minConfidence: config.minConfidence }, usesCatalog: false, close: () => Promise.resolve() };
  }
  const apiKey = (name: string | undefined): string | undefined => {
    if (name === undefined) return undefined;
    const value = env[name];
    if (value === undefined || value === "") throw new Error(`intent extractor: environment variable ${name} (apiKeyEnv) is not set`);
    return value;
  };
  let inner;
  let close = (): Promise<void> => Promise.resolve();
  if (e.kind === "http") {
    const http = createHttpExtractor({ url: e.url, timeoutMs: e.timeoutMs, apiKey: apiKey(e.apiKeyEnv) });
    inner = http;
    close = () => http.close();
  } else if (e.kind === "openai") {
    const openai = createOpenAiExtractor({ baseUrl: e.baseUrl, model: e.model, timeoutMs: e.timeoutMs, apiKey: apiKey(e.apiKeyEnv), catalog });
    inner = openai;
    close = () => openai.close();
  } else {
    inner = createBuiltinExtractor(catalog);
  }
  const usesCatalog = e.kind !== "http";
  const extractor = createCachedExtractor(inner, {
    maxEntries: config.cache.maxEntries,
    ttlMs: config.cache.ttlSeconds * 1000,
    ...(usesCatalog ? { generation: () => catalog.generation } : {}),
  });
  return {
    deps: { mode: config.mode, extractor, minConfidence: config.minConfidence, lowConfidence: config.lowConfidence },
    usesCatalog,
    close,
  };
}
