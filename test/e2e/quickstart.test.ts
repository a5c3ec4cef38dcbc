// The README's quick start, run as a user would: one command, then the scripted agent's calls must
// come out allowed, blocked, escalated and refused by the budget, each recorded in the audit log.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";


test("scripts/quickstart.sh runs the gateway demo end to end", async () => {
  const env = {
    ...process.env,
    INTENTGATE_DEMO_GATEWAY_PORT: String(await freePort()),
    INTENTGATE_DEMO_ADMIN_PORT: String(await freePort()),
    INTENTGATE_DEMO_SERVER_PORT: String(await freePort()),
  };
  const { stdout } = await promisify(execFile)("bash", [`${ROOT}scripts/quickstart.sh`], { env, timeout: 120_000 });
  const agentLines = stdout.split("\n").filter((l) => /^(ALLOWED|REFUSED|ESCALATED)/.test(l));
  assert.deepEqual(
    agentLines.map((l) => l.split(/\s+/).slice(0, 3).join(" ")),
    [
      "ALLOWED files.read_file allowed",
      "REFUSED payments.transfer policy_blocked",
      "ESCALATED payments.transfer approval_required",
      "REFUSED files.delete_file tool_denied",
      "ALLOWED files.list_files allowed",
      "ALLOWED files.read_file allowed",
      "REFUSED files.read_file budget_agent_calls",
    ],
  );
  assert.match(stdout, /files\.read_file: covered/);
  assert.match(stdout, /"code": "tool_denied"/);
  const auditLines = stdout.split("== every decision is in the hash-chained audit log")[1]?.trim().split("\n").slice(1) ?? [];
  assert.equal(auditLines.filter((l) => / decision /.test(l)).length, 7);
  assert.equal(auditLines.filter((l) => / outcome /.test(l)).length, 3);
});
