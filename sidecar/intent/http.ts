// The HTTP extractor: any service that speaks IntentGate's extraction protocol.
//   POST <url>/v1/extract  {"prompt": "...", "agent_id": "..."}
//   200 application/json   {"intent": {"summary", "allowed_tools", "forbidden_tools", "confidence", "rationale"}}
// The answer is validated strictly (docs/intent.md): an extra member, a glob, a confidence outside
// 0..1 or a non-200 status is a failure, never a partial recommendation.
import type { IntentExtractor } from "../checks/intent.ts";
import { IntentExtractorError } from "./errors.ts";
import { createJsonClient } from "./transport.ts";
import { parseRecommendation } from "./validate.ts";

export interface HttpExtractorOptions {
  /** Base URL; requests go to `<url>/v1/extract`. */
  url: string;
  timeoutMs: number;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string | undefined;
}

export function extractEndpoint(base: string): URL {
  return new URL("v1/extract", base.endsWith("/") ? base : `${base}/`);
}

export function createHttpExtractor(options: HttpExtractorOptions): IntentExtractor & { close(): Promise<void> } {
  const endpoint = extractEndpoint(options.url);
  const client = createJsonClient(`intent extractor ${endpoint.origin}`);
  const headers: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  return {
    async extract({ prompt, agent }) {
      const answer = await client.post(endpoint, { prompt, agent_id: agent }, headers, options.timeoutMs);
      if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
        throw new IntentExtractorError("invalid_response", "extractor answer is not an object");
      }
      const keys = Object.keys(answer);
      if (keys.length !== 1 || keys[0] !== "intent") {
        throw new IntentExtractorError("invalid_response", `extractor answer must be exactly {"intent": {...}}, got members ${JSON.stringify(keys)}`);
      }
      return parseRecommendation((answer as { intent: unknown }).intent, "extractor answer");
    },
    close: () => client.close(),
  };
}
