// Runs the checks in order; the first denial ends the call. Any exception is a denial.
import type { CallContext, Check, Stage, Verdict } from "./types.ts";

export type Decision =
  | { ok: true }
  | { ok: false; decision: "block" | "escalate"; stage: Stage; code: string; message: string };

export interface StageTimer {
  observe(stage: Stage, outcome: "pass" | "deny" | "error", seconds: number): void;
}

export function createPipeline(checks: readonly Check[], timer: StageTimer): (ctx: CallContext) => Promise<Decision> {
  return async (ctx) => {
    for (const check of checks) {
      const started = process.hrtime.bigint();
      let verdict: Verdict;
      try {
        const result = check.run(ctx);
        verdict = result instanceof Promise ? await result : result;
      } catch (error) {
        timer.observe(check.stage, "error", elapsed(started));
        return { ok: false, decision: "block", stage: check.stage, code: "internal_error", message: `${check.stage} check failed: ${(error as Error).message}` };
      }
      timer.observe(check.stage, verdict.ok ? "pass" : "deny", elapsed(started));
      if (!verdict.ok) return { ...verdict, stage: check.stage };
    }
    return { ok: true };
  };
}

const elapsed = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;
