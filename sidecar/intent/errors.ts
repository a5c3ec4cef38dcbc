// The one error family of extractors. It never crosses the wire as such: the intent check turns
// it into `intent_unavailable` (enforce) or into `input.intent.error` for the policy (advisory).

export type ExtractorErrorCode = "timeout" | "unreachable" | "http_status" | "invalid_response" | "refused";

export class IntentExtractorError extends Error {
  readonly code: ExtractorErrorCode;
  constructor(code: ExtractorErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
