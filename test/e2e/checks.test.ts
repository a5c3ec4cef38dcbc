// Each check's denials through a running sidecar, exact budgets under concurrency, and fail-closed
// behaviour when revocations, the policy, the budget store or the audit log cannot be trusted.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { attenuateToken, revocationIds } from "../../wire/index.ts";
import { AGENT, startGateway, type Gateway, type GatewayOptions } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

async function withGateway(options: GatewayOptions, body: (gw: Gateway, forwarded: () => number) => Promise<void>): Promise<void> {
  const upstream = await startRecordingUpstream();
  const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url, ...options });
  try {
    await body(gw, () => upstream.requests.length);
  } finally {
    await gw.close();
    await upstream.close();
  }
}

const url = (gw: Gateway): string => `${gw.sidecar.url}/mcp/files`;

describe("capability check", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("a forged token (flipped tag bit) is refused with bad_signature", async () => {
    const token = gw.mint();
    const last = token.slice(-2, -1) === "A" ? "B" : "A";
    const forged = `${token.slice(0, -2)}${last}${token.slice(-1)}`;
    assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), forged)), "bad_signature");
  });

  test("a token bound to another agent is refused with agent_mismatch", async () => {
    assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), gw.mint(undefined, "agent-2"))), "agent_mismatch");
  });

  test("an argument constraint is enforced; the same call within it passes", async () => {
    const token = gw.mint([{ type: "arg", path: "/path", op: "under", value: "/data" }]);
    assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file", { path: "/data/../etc/passwd" }), token)), "argument_violation");
    assert.equal(outcomeOf(await postRpc(url(gw), toolCall(2, "read_file", { path: "/data/a" }), token)), "allowed");
  });

  test("revoking a hop refuses it and its descendants but not its parent; revoking the root refuses all", async () => {
    const parent = gw.mint();
    const child = attenuateToken(parent, [{ type: "tools", allow: ["files.read_file"] }]);
    const grandchild = attenuateToken(child, [{ type: "expires", at: Math.floor(Date.now() / 1000) + 600 }]);
    const childHop = revocationIds(child).at(-1) as string;
    writeFileSync(gw.revocationsFile, JSON.stringify({ version: 1, revoked: [{ id: childHop, revoked_at: new Date().toISOString() }] }));
    const outcome = async (t: string): Promise<string> => outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), t));
    assert.ok(await eventually(async () => (await outcome(child)) === "revoked"));
    assert.equal(await outcome(grandchild), "revoked");
    assert.equal(await outcome(parent), "allowed");
    const root = revocationIds(parent)[0] as string;
    writeFileSync(gw.revocationsFile, JSON.stringify({ version: 1, revoked: [{ id: root, revoked_at: new Date().toISOString() }] }));
    assert.ok(await eventually(async () => (await outcome(parent)) === "revoked"));
    assert.equal(await outcome(grandchild), "revoked");
  });

  test("an unreadable revocation list refuses every call (fail closed) and readiness drops", async () => {
    const token = gw.mint();
    rmSync(gw.revocationsFile);
    try {
      assert.ok(await eventually(async () => outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), token)) === "revocation_unavailable"));
      assert.equal((await fetch(`${gw.sidecar.adminUrl}/readyz`)).status, 503);
    } finally {
      writeFileSync(gw.revocationsFile, JSON.stringify({ version: 1, revoked: [] }));
    }
    assert.ok(await eventually(async () => outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), token)) === "allowed"));
  });
});

describe("budget check", () => {
  test("50 concurrent calls against a 5-call agent budget forward exactly 5", async () => {
    await withGateway({ config: { budget: { agent: { calls: { max: 5, windowSeconds: 3600 } } } } }, async (gw, forwarded) => {
      const token = gw.mint();
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => postRpc(url(gw), toolCall(i, "read_file"), token)));
      const outcomes = replies.map(outcomeOf);
      assert.equal(outcomes.filter((o) => o === "allowed").length, 5);
      assert.equal(outcomes.filter((o) => o === "budget_agent_calls").length, 45);
      assert.equal(forwarded(), 5);
    });
  });

  test("the 101st call in the window from an agent budgeted for 100 is refused", async () => {
    await withGateway({ config: { budget: { agent: { calls: { max: 100, windowSeconds: 3600 } } } } }, async (gw, forwarded) => {
      const token = gw.mint();
      for (let i = 0; i < 100; i++) assert.equal(outcomeOf(await postRpc(url(gw), toolCall(i, "read_file"), token)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(100, "read_file"), token)), "budget_agent_calls");
      assert.equal(forwarded(), 100);
    });
  });

  test("cost ceilings use the per-tool cost table; tenant ceilings apply too", async () => {
    const budget = { tenant: { cost: { max: 10, windowSeconds: 60 } }, costs: { "files.delete_*": 100, "files.read_*": 4 } };
    await withGateway({ config: { budget } }, async (gw) => {
      const token = gw.mint();
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), token)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(2, "read_file"), token)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(3, "read_file"), token)), "budget_tenant_cost");
    });
  });

  test("a token's call ceiling is shared by tokens attenuated from it (attenuation cannot reset it)", async () => {
    await withGateway({}, async (gw) => {
      const parent = gw.mint([{ type: "calls", max: 3 }]);
      const child = attenuateToken(parent, [{ type: "tools", allow: ["files.*"] }]);
      const sibling = attenuateToken(parent, [{ type: "tools", allow: ["files.*"] }]);
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), parent)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(2, "read_file"), child)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(3, "read_file"), sibling)), "allowed");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(4, "read_file"), child)), "budget_token_calls");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(5, "read_file"), parent)), "budget_token_calls");
    });
  });

  test("a budget store error refuses the call (fail closed)", async () => {
    const broken = {
      reserve(): never {
        throw new Error("ledger offline");
      },
      usage: () => ({ calls: 0, cost: 0 }),
    };
    await withGateway({ config: { budget: { agent: { calls: { max: 5, windowSeconds: 60 } } } }, start: { ledger: broken } }, async (gw, forwarded) => {
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), gw.mint())), "budget_unavailable");
      assert.equal(forwarded(), 0);
    });
  });
});

describe("policy check", () => {
  test("a policy evaluation error refuses the call (fail closed)", async () => {
    await withGateway({ policy: "testdata/bad-decisions" }, async (gw, forwarded) => {
      const token = gw.mint([{ type: "tools", allow: ["files.*"] }]);
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "conflict"), token)), "policy_error");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(2, "not_object"), token)), "policy_invalid_decision");
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(3, "valid"), token)), "allowed");
      assert.equal(forwarded(), 1);
    });
  });

  test("the default policy blocks a destructive tool", async () => {
    await withGateway({}, async (gw, forwarded) => {
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "delete_file", { path: "/data/a" }), gw.mint())), "policy_blocked");
      assert.equal(forwarded(), 0);
    });
  });

  test("dryRun mode records the policy's block but forwards the call", async () => {
    const upstream = await startRecordingUpstream();
    const dry = await startGateway({
      policy: "default",
      upstreamUrl: upstream.url,
      config: { policy: { bundle: new URL("../../policies/default/build/policy.wasm", import.meta.url).pathname, mode: "dryRun" } },
    });
    try {
      assert.equal(outcomeOf(await postRpc(`${dry.sidecar.url}/mcp/files`, toolCall(1, "delete_file", { path: "/x" }), dry.mint())), "allowed");
      const record = dry.auditRecords().findLast((r) => r.kind === "decision") as unknown as { policy: { decision: string; dry_run: boolean } };
      assert.deepEqual(record.policy.decision, "block");
      assert.equal(record.policy.dry_run, true);
    } finally {
      await dry.close();
      await upstream.close();
    }
  });
});

describe("audit", () => {
  test("every decision is recorded before the answer, with its decision id; argument values are not stored", async () => {
    await withGateway({}, async (gw) => {
      const token = gw.mint([{ type: "tools", allow: ["files.read_file"] }]);
      const allowed = await postRpc(url(gw), toolCall(1, "read_file", { path: "/secret/value" }), token);
      const refused = await postRpc(url(gw), toolCall(2, "list_files", { folder: "/x" }), token);
      // The allowed call's outcome is recorded when its answer is relayed, just after the answer.
      assert.ok(await eventually(async () => gw.auditRecords().length === 3));
      const lines = gw.auditRecords() as unknown as Array<Record<string, unknown>>;
      const decisions = lines.filter((l) => l["kind"] === "decision");
      assert.equal(decisions.length, 2);
      assert.equal(decisions[0]?.["disposition"], "allowed");
      assert.equal(decisions[0]?.["agent"], AGENT);
      assert.equal(decisions[0]?.["seq"], 1);
      assert.equal(decisions[1]?.["code"], "tool_not_allowed");
      assert.equal(decisions[1]?.["decision_id"], refused.body.result._meta["dev.intentgate/decision"].decision_id);
      assert.deepEqual((decisions[0]?.["arguments"] as { names: string[] }).names, ["path"]);
      const outcome = lines.find((l) => l["kind"] === "outcome");
      assert.equal(outcome?.["decision_id"], decisions[0]?.["decision_id"]);
      assert.equal(outcome?.["outcome"], "ok");
      for (let i = 1; i < lines.length; i++) assert.equal(lines[i]?.["prev_hash"], lines[i - 1]?.["hash"]);
      assert.equal(outcomeOf(allowed), "allowed");
      assert.ok(!readdirSync(gw.auditSpool).some((f) => readFileSync(join(gw.auditSpool, f), "utf8").includes("/secret/value")));
    });
  });

  test("each forwarded call's outcome is recorded: a tool error, and an upstream that gives no answer", async () => {
    let mode: "tool_error" | "drop" = "tool_error";
    const upstream = await startRecordingUpstream((req, res) => {
      if (mode === "drop") return void res.destroy();
      const id = (JSON.parse(req.body.toString()) as { id: number }).id;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id, result: { content: [], isError: true } }));
    });
    const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
    try {
      const token = gw.mint();
      await postRpc(url(gw), toolCall(1, "read_file"), token);
      mode = "drop";
      assert.equal((await postRpc(url(gw), toolCall(2, "read_file"), token)).status, 502);
      assert.ok(await eventually(async () => gw.auditRecords().filter((r) => r.kind === "outcome").length === 2));
      const outcomes = gw.auditRecords().filter((r) => r.kind === "outcome") as unknown as Array<{ outcome: string }>;
      assert.deepEqual(outcomes.map((o) => o.outcome), ["tool_error", "http_502"]);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test("when the audit log cannot be written (disk full) calls are refused and nothing is forwarded", async () => {
    await withGateway({}, async (gw, forwarded) => {
      // The spool's first segment (opened at the first write) is /dev/full: writes fail with ENOSPC, as on a full disk.
      symlinkSync("/dev/full", join(gw.auditSpool, "seg-000000000001.ndjson"));
      assert.equal(outcomeOf(await postRpc(url(gw), toolCall(1, "read_file"), gw.mint())), "audit_unavailable");
      assert.equal(forwarded(), 0);
      const metrics = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
      assert.match(metrics, /intentgate_audit_write_failures_total 1/);
    });
  });
});

describe("observability", () => {
  test("/metrics counts decisions by stage and code, without per-tool or per-agent labels", async () => {
    await withGateway({}, async (gw) => {
      await postRpc(url(gw), toolCall(1, "read_file"), gw.mint());
      await postRpc(url(gw), toolCall(2, "read_file"));
      const text = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
      assert.match(text, /intentgate_decisions_total\{stage="all",decision="allow",code="allowed"\} 1/);
      assert.match(text, /intentgate_decisions_total\{stage="capability",decision="block",code="token_missing"\} 1/);
      assert.match(text, /intentgate_check_duration_seconds_bucket\{le="[^"]+",stage="policy",outcome="pass"\}/);
      assert.match(text, /intentgate_policy_bundle_info\{version="[0-9a-f]{12}"\} 1/);
      assert.doesNotMatch(text, /read_file|agent-1/);
      assert.equal((await fetch(`${gw.sidecar.adminUrl}/healthz`)).status, 200);
      assert.equal((await fetch(`${gw.sidecar.adminUrl}/readyz`)).status, 200);
    });
  });
});
