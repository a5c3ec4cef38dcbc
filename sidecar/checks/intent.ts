// Check: intent. A pluggable stage: an extractor turns the authenticated prompt into a
// recommendation that the call must fit. With the tenant's intent mode `off` the stage passes and
// records no recommendation (the policy sees `intent: null`). docs/intent.md is the reference.
//
// The prompt is only worth classifying when it is authenticated: the capability check has matched
// it against the token's `prompt` caveat, and this check refuses a token without one
// (`intent_prompt_unbound`), since an agent could otherwise present any prompt that fits its call.
//
// Tool lists hold exact `server.tool` names, compared exactly: a glob in a recommendation would let
// an extractor (or a prompt steering it) widen what it allows, so extractors' answers with `*` are
// refused as malformed (sidecar/intent/validate.ts).
import { ALLOW, block, type CallContext, type Check, type IntentRecommendation, type IntentResult, type Verdict } from "./types.ts";

/** The interface every intent extractor implements. A rejection is an extractor failure. */
export interface IntentExtractor {
  extract(request: { prompt: string; agent: string; tenant: string }): Promise<IntentRecommendation>;
}

export interface IntentDeps {
  /** `enforce` refuses calls that do not fit; `advisory` only records, for the policy. Absent: intent is off. */
  mode?: "enforce" | "advisory";
  extractor: IntentExtractor | undefined;
  minConfidence: number;
  /** What a recommendation below `minConfidence` does: refuse the call, or count as if confident. */
  lowConfidence?: "refuse" | "allow";
}

const NONE: IntentRecommendation = Object.freeze({ summary: "", allowed_tools: [], forbidden_tools: [], confidence: 0, rationale: "" }) as IntentRecommendation;

export function createIntentCheck(deps: IntentDeps): Check {
  const extractor = deps.extractor;
  if (extractor === undefined) {
    // Synchronous, so a gateway without intent checking pays no promise per call.
    return { stage: "intent", run: (ctx) => ((ctx.intent = null), ALLOW) };
  }
  const mode = deps.mode ?? "enforce";
  const refuseLow = (deps.lowConfidence ?? "refuse") === "refuse";

  /** Records the outcome for the policy; refuses only when enforcing and the call does not fit. */
  const conclude = (ctx: CallContext, recommendation: IntentRecommendation, verdict: string, message: string, error: string | null = null): Verdict => {
    ctx.intent = { ...recommendation, mode, verdict, error } satisfies IntentResult;
    if (verdict === "fits" || mode === "advisory") return ALLOW;
    return block(verdict, message);
  };

  return {
    stage: "intent",
    async run(ctx) {
      if (ctx.verified === undefined) return block("internal_error", "intent check ran without a verified token");
      if (ctx.prompt === undefined) return conclude(ctx, NONE, "intent_prompt_missing", "intent checking needs the user prompt with the call");
      if (ctx.verified.effective.promptSha256.length === 0) {
        return conclude(ctx, NONE, "intent_prompt_unbound", "the token does not bind the prompt (no prompt caveat), so the prompt is not authenticated");
      }
      let intent: IntentRecommendation;
      try {
        intent = await extractor.extract({ prompt: ctx.prompt, agent: ctx.agent, tenant: ctx.tenant });
      } catch (error) {
        const reason = (error as Error).message;
        return conclude(ctx, NONE, "intent_unavailable", `the intent extractor failed: ${reason}`, reason);
      }
      if (intent.forbidden_tools.includes(ctx.name)) return conclude(ctx, intent, "intent_forbidden", `the user's request forbids ${ctx.name}`);
      if (!intent.allowed_tools.includes(ctx.name)) return conclude(ctx, intent, "intent_not_allowed", `${ctx.name} does not fit the user's request`);
      if (refuseLow && intent.confidence < deps.minConfidence) {
        return conclude(ctx, intent, "intent_low_confidence", `intent confidence ${intent.confidence} is below ${deps.minConfidence}`);
      }
      return conclude(ctx, intent, "fits", "");
    },
  };
}
