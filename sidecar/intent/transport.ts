// POST a JSON body and read a JSON answer, within a deadline and a size limit. Each extractor owns
// one undici Agent (keep-alive connections), built when the extractor is built. The deadline is an
// AbortSignal per extraction, which happens once per prompt (results are cached), not per call.
import { Agent, request } from "undici";
import { IntentExtractorError } from "./errors.ts";

export const MAX_ANSWER_BYTES = 256 * 1024;

export interface JsonClient {
  post(url: URL, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}

export function createJsonClient(what: string): JsonClient {
  const agent = new Agent({ connections: 16, keepAliveTimeout: 10_000 });
  return {
    async post(url, body, headers, timeoutMs) {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await request(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json", ...headers },
          body: JSON.stringify(body),
          dispatcher: agent,
          signal,
        });
        const text = await readCapped(res.body, MAX_ANSWER_BYTES, what);
        if (res.statusCode !== 200) {
          throw new IntentExtractorError("http_status", `${what} answered HTTP ${res.statusCode}${snippet(text)}`);
        }
        const type = String(res.headers["content-type"] ?? "");
        if (!/^application\/json\s*(;|$)/i.test(type)) throw new IntentExtractorError("invalid_response", `${what} answered ${type || "no content type"}, not application/json`);
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new IntentExtractorError("invalid_response", `${what} answered a body that is not JSON`);
        }
      } catch (error) {
        if (error instanceof IntentExtractorError) throw error;
        if (signal.aborted) throw new IntentExtractorError("timeout", `${what} did not answer within ${timeoutMs} ms`);
        const code = (error as { code?: string }).code;
        throw new IntentExtractorError("unreachable", `${what} could not be reached: ${code ?? (error as Error).message}`);
      }
    },
    close: () => agent.close(),
  };
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new IntentExtractorError("invalid_response", `${what} answered more than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The start of an error body, for logs: one line, short. */
function snippet(text: string): string {
  const line = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return line === "" ? "" : `: ${line}`;
}
