// A restart does not reset budgets: the sidecar rebuilds the agent's sliding windows from its audit
// log, from the spool (not yet shipped) and from the audit database (already shipped).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AuditKeys } from "../../wire/audit/index.ts";
import { startGateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

async function twoRuns(database: boolean): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-budget-restart-"));
  writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("budget")), { mode: 0o600 });
  const upstream = await startRecordingUpstream();
  const audit = { spool: join(dir, "spool"), keys: join(dir, "audit-keys.json"), stream: "budget", ...(database ? { database: { embedded: join(dir, "db") } } : {}) };
  const config = { audit, budget: { agent: { calls: { max: 3, windowSeconds: 3600 } } } };
  const outcomes: string[] = [];
  try {
    const first = await startGateway({ policy: "default", upstreamUrl: upstream.url, config });
    try {
      for (let i = 0; i < 2; i++) outcomes.push(outcomeOf(await postRpc(`${first.sidecar.url}/mcp/files`, toolCall(i, "read_file"), first.mint())));
      if (database) {
        const metrics = async (): Promise<string> => (await fetch(`${first.sidecar.adminUrl}/metrics`)).text();
        assert.ok(await eventually(async () => /^intentgate_audit_spool_pending_bytes 0$/m.test(await metrics()), 10_000));
      }
    } finally {
      await first.close();
    }
    if (database) {
      // Everything is in the database: remove the spool's segments, as acknowledged shipping does over time.
      const shipped = JSON.parse(readFileSync(join(audit.spool, "shipped.json"), "utf8")) as { seq: number };
      assert.ok(shipped.seq >= 2);
      for (const name of readdirSync(audit.spool)) if (name.startsWith("seg-")) rmSync(join(audit.spool, name));
    }
    const second = await startGateway({ policy: "default", upstreamUrl: upstream.url, config });
    try {
      for (let i = 2; i < 4; i++) outcomes.push(outcomeOf(await postRpc(`${second.sidecar.url}/mcp/files`, toolCall(i, "read_file"), second.mint())));
    } finally {
      await second.close();
    }
  } finally {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return outcomes;
}

test("after a restart, the calls recorded in the spool still count against the agent's window", async () => {
  assert.deepEqual(await twoRuns(false), ["allowed", "allowed", "allowed", "budget_agent_calls"]);
});

test("after a restart, the calls already shipped to the audit database still count", async () => {
  assert.deepEqual(await twoRuns(true), ["allowed", "allowed", "allowed", "budget_agent_calls"]);
});
