// Runs the checks in order; the first denial ends the call. Any exception is a denial.
// With a tracer, each check runs in a child span of the active one (the request's server span);
// without one, the loop has no span code at all: the choice is made once, here, at start-up.
import { SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { ATTR } from "../observability/attributes.ts";
import type { CallContext, Check, Stage, Verdict } from "./types.ts";

export type Decision =
  | { ok: true }
  | { ok: false; decision: "block" | "escalate"; stage: Stage; code: string; message: string };

export interface StageTimer {
  observe(stage: Stage, outcome: "pass" | "deny" | "error", seconds: number): void;
}

export function createPipeline(checks: readonly Check[], timer: StageTimer, tracer?: Tracer): (ctx: CallContext) => Promise<Decision> {
  if (tracer !== undefined) return createTracedPipeline(checks, timer, tracer);
  return async (ctx) => {
    for (const check of checks) {
      const started = process.hrtime.bigint();
      let verdict: Verdict;
      try {
        const result = check.run(ctx);
        verdict = result instanceof Promise ? await result : result;
      } catch (error) {
        timer.observe(check.stage, "error", elapsed(started));
        return failed(check, error);
      }
      timer.observe(check.stage, verdict.ok ? "pass" : "deny", elapsed(started));
      if (!verdict.ok) return { ...verdict, stage: check.stage };
    }
    return { ok: true };
  };
}

/** Span attributes carry the stage, the outcome and the reason code, never the denial's message. */
function createTracedPipeline(checks: readonly Check[], timer: StageTimer, tracer: Tracer): (ctx: CallContext) => Promise<Decision> {
  const steps = checks.map((check) => ({ check, name: `check ${check.stage}` }));
  return async (ctx) => {
    for (const { check, name } of steps) {
      const span = tracer.startSpan(name, { attributes: { [ATTR.stage]: check.stage, [ATTR.decisionId]: ctx.decisionId } });
      const started = process.hrtime.bigint();
      let verdict: Verdict;
      try {
        const result = check.run(ctx);
        verdict = result instanceof Promise ? await result : result;
      } catch (error) {
        timer.observe(check.stage, "error", elapsed(started));
        span.setAttributes({ [ATTR.outcome]: "error", [ATTR.reasonCode]: "internal_error" });
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        return failed(check, error);
      }
      timer.observe(check.stage, verdict.ok ? "pass" : "deny", elapsed(started));
      if (verdict.ok) {
        span.setAttribute(ATTR.outcome, "pass");
        span.end();
        continue;
      }
      span.setAttributes({ [ATTR.outcome]: "deny", [ATTR.decision]: verdict.decision, [ATTR.reasonCode]: verdict.code });
      span.end();
      return { ...verdict, stage: check.stage };
    }
    return { ok: true };
  };
}

function failed(check: Check, error: unknown): Decision {
  return { ok: false, decision: "block", stage: check.stage, code: "internal_error", message: `${check.stage} check failed: ${(error as Error).message}` };
}

const elapsed = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;
