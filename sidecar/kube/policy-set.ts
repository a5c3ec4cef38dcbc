// Several ToolPolicies can select one agent. They are evaluated together, most restrictive first:
// any enforcing policy's block wins over an escalate, which wins over allow; an error in any enforcing
// policy denies. Dry-run policies are evaluated for the record and never change the outcome.
// A policy the controller could not compile arrives without wasm and denies every call.
import { createHash } from "node:crypto";
import type { SnapshotPolicy } from "../../wire/snapshot.ts";
import type { LoadedPolicy } from "../checks/policy.ts";
import { loadPolicyBundle, type PolicyEngine } from "../policy/engine.ts";
import type { PolicyInput, PolicyVerdict } from "../policy/types.ts";

interface Member {
  name: string;
  mode: "enforce" | "dryRun";
  engine: PolicyEngine | undefined;
}

const RANK = { allow: 0, escalate: 1, block: 2 } as const;

export async function loadPolicySet(policies: readonly SnapshotPolicy[], onDryRun?: (name: string, verdict: PolicyVerdict) => void): Promise<LoadedPolicy> {
  const members: Member[] = [];
  for (const p of policies) {
    // Only the default entrypoint is compiled into the wasm today; another name cannot be evaluated.
    const engine = p.wasm === "" ? undefined : await loadPolicyBundle(Buffer.from(p.wasm, "base64"), p.data);
    members.push({ name: p.name, mode: p.mode, engine });
  }
  const version =
    members.length === 1 && members[0]?.engine !== undefined
      ? members[0].engine.version
      : "set:" + createHash("sha256").update(policies.map((p) => `${p.name}@${p.version}`).join("\n")).digest("hex").slice(0, 12);
  return {
    version,
    evaluate(input: PolicyInput): PolicyVerdict {
      if (members.length === 0) return { ok: false, code: "policy_error", message: "no ToolPolicy selects this agent" };
      let worst: PolicyVerdict | undefined;
      for (const m of members) {
        if (m.engine === undefined) {
          if (m.mode === "enforce") return { ok: false, code: "policy_error", message: `policy ${m.name} did not compile; see its status` };
          continue;
        }
        const verdict = m.engine.evaluate(input);
        if (m.mode === "dryRun") onDryRun?.(m.name, verdict);
        else if (!verdict.ok) return verdict;
        else if (worst === undefined || (worst.ok && RANK[verdict.decision] > RANK[worst.decision])) worst = verdict;
      }
      return worst ?? { ok: true, decision: "allow", reason: "only dry-run policies select this agent", requiresStepUp: false };
    },
  };
}
