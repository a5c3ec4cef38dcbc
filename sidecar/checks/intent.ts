// Check 2: intent. A pluggable stage: an extractor turns the authenticated prompt into a
// recommendation that the call must fit. With no extractor configured the stage passes and
// records no recommendation (the policy sees `intent: null`).
import { anyGlobMatches } from "../../wire/index.ts";
import { ALLOW, block, type Check, type IntentRecommendation } from "./types.ts";

/** The interface every intent extractor implements. */
export interface IntentExtractor {
  extract(request: { prompt: string; agent: string; tenant: string }): Promise<IntentRecommendation>;
}

export interface IntentDeps {
  extractor: IntentExtractor | undefined;
  minConfidence: number;
}

export function createIntentCheck(deps: IntentDeps): Check {
  const extractor = deps.extractor;
  if (extractor === undefined) {
    // Synchronous, so a gateway without intent checking pays no promise per call.
    return { stage: "intent", run: (ctx) => ((ctx.intent = null), ALLOW) };
  }
  return {
    stage: "intent",
    async run(ctx) {
      if (ctx.prompt === undefined) return block("intent_prompt_missing", "intent checking needs the user prompt with the call");
      const intent = await extractor.extract({ prompt: ctx.prompt, agent: ctx.agent, tenant: ctx.tenant });
      ctx.intent = intent;
      if (anyGlobMatches(intent.forbidden_tools, ctx.name)) return block("intent_forbidden", `the user's request forbids ${ctx.name}`);
      if (!anyGlobMatches(intent.allowed_tools, ctx.name)) return block("intent_not_allowed", `${ctx.name} does not fit the user's request`);
      if (intent.confidence < deps.minConfidence) return block("intent_low_confidence", `intent confidence ${intent.confidence} is below ${deps.minConfidence}`);
      return ALLOW;
    },
  };
}
