// The lease API over real HTTP against a real ledger. Authentication here is a static bearer-token
// table standing in for the cluster's TokenReview (no kube-apiserver in this test): what is tested
// is what the handler does with the identity it is given.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { startPostgres, type TestPostgres } from "../../test/support/postgres.ts";
import type { LeaseBudget } from "./budget.ts";
import { createLeaseHandler, type Identity } from "./http.ts";
import { MAX_BODY_BYTES } from "./requests.ts";
import { LeaseService } from "./service.ts";
import { RING } from "../../wire/token/test-keys.ts";
import { attenuateToken, KeyRing, mintToken } from "../../wire/index.ts";
import { MAX_TOKEN_LENGTH } from "../../wire/token/codec.ts";

const IDENTITIES: Record<string, Identity> = {
  "token-bot": { tenant: "acme", agent: "team-a/bot" },
  "token-other": { tenant: "acme", agent: "team-a/other" },
  "token-globex": { tenant: "globex", agent: "team-g/bot" },
};
const BUDGETS: Record<string, LeaseBudget> = {
  "team-a/per-agent": { name: "team-a/per-agent", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 3 },
  "team-a/shared": { name: "team-a/shared", tenant: "acme", scope: "tenant", windowSeconds: 3600, cost: 10 },
};

let db: TestPostgres;
let service: LeaseService;
let server: Server;
let url: string;
const errors: Error[] = [];

before(async () => {
  db = await startPostgres();
  service = await LeaseService.open({ database: db.url });
  const handler = createLeaseHandler({
    service,
    budgets: (name) => BUDGETS[name],
    tenantKeys: (tenant) => (tenant === "acme" || tenant === "globex" ? RING : undefined),
    authenticate: async (req) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const who = token === undefined ? undefined : IDENTITIES[token];
      if (who === undefined) throw new Error("unknown token");
      return who;
    },
    onError: (error) => errors.push(error),
  });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await service.close();
  db.destroy();
});

interface Answer {
  id: string;
  calls: number;
  cost: number | null;
  leaseMs: number;
  grantedAt: string;
  expiresAt: string;
  returned?: unknown;
  error?: { code: string; message: string };
}

async function post(path: string, body: unknown, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Answer }> {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}
const code = (r: { body: Answer }): string | undefined => r.body.error?.code;

test("an agent takes a slice of its own agent key and returns what it did not use", async () => {
  const r = await post("/v1/leases", { budget: "team-a/per-agent", key: "team-a/bot", holder: "pod-1", calls: 1 }, "token-bot");
  assert.equal(r.status, 201);
  assert.equal(r.body.calls, 1);
  assert.equal(r.body.cost, null);
  assert.equal(r.body.leaseMs, 30_000);
  assert.equal(Date.parse(r.body.expiresAt) - Date.parse(r.body.grantedAt), 30_000);
  const back = await post(`/v1/leases/${r.body.id}/return`, { calls: 0 }, "token-bot");
  assert.deepEqual(back, { status: 200, body: { id: r.body.id, returned: { calls: 0, cost: 0 } } });
});

test("an agent cannot take slices of another agent's key, another tenant's key or another tenant's budget", async () => {
  const other = await post("/v1/leases", { budget: "team-a/per-agent", key: "team-a/other", holder: "pod-1" }, "token-bot");
  assert.equal(other.status, 403);
  assert.equal(code(other), "forbidden_key");
  const tenant = await post("/v1/leases", { budget: "team-a/shared", key: "globex", holder: "pod-1", minCost: 1 }, "token-bot");
  assert.equal(code(tenant), "forbidden_key");
  const agentKeyOnTenantBudget = await post("/v1/leases", { budget: "team-a/shared", key: "team-a/bot", holder: "pod-1" }, "token-bot");
  assert.equal(code(agentKeyOnTenantBudget), "forbidden_key");
  const foreign = await post("/v1/leases", { budget: "team-a/per-agent", key: "team-g/bot", holder: "pod-1" }, "token-globex");
  assert.equal(foreign.status, 404);
  assert.equal(code(foreign), "unknown_budget");
  assert.equal(code(await post("/v1/leases", { budget: "team-a/none", key: "team-a/bot", holder: "p" }, "token-bot")), "unknown_budget");
  assert.deepEqual(await service.usage("team-a/per-agent", "team-a/other"), { calls: 0, cost: 0 });
});

test("the tenant key is shared by the tenant's agents; the ceiling refuses with the sidecar's code", async () => {
  const a = await post("/v1/leases", { budget: "team-a/shared", key: "acme", holder: "pod-a", calls: 1, minCost: 4, cost: 4 }, "token-bot");
  const b = await post("/v1/leases", { budget: "team-a/shared", key: "acme", holder: "pod-b", calls: 1, minCost: 4, cost: 4 }, "token-other");
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  const c = await post("/v1/leases", { budget: "team-a/shared", key: "acme", holder: "pod-b", calls: 1, minCost: 4 }, "token-other");
  assert.equal(c.status, 409);
  assert.equal(code(c), "budget_tenant_cost");
});

test("only the lease's own agent can return it", async () => {
  const r = await post("/v1/leases", { budget: "team-a/per-agent", key: "team-a/bot", holder: "pod-1" }, "token-bot");
  assert.equal(r.status, 201);
  const stolen = await post(`/v1/leases/${r.body.id}/return`, { calls: 0 }, "token-other");
  assert.equal(stolen.status, 404);
  assert.equal(code(stolen), "unknown_lease");
  const over = await post(`/v1/leases/${r.body.id}/return`, { calls: 2 }, "token-bot");
  assert.equal(over.status, 400);
  assert.equal(code(over), "invalid_usage");
  assert.equal((await post(`/v1/leases/${r.body.id}/return`, { calls: 1 }, "token-bot")).status, 200);
});

test("requests are authenticated, strictly shaped and limited in size", async () => {
  const good = { budget: "team-a/per-agent", key: "team-a/bot", holder: "p" };
  assert.equal(code(await post("/v1/leases", good)), "unauthenticated");
  assert.equal(code(await post("/v1/leases", good, "forged")), "unauthenticated");
  assert.equal(code(await post("/v1/leases", { ...good, ceiling: 1000 }, "token-bot")), "invalid_request");
  assert.equal(code(await post("/v1/leases", { ...good, calls: 0 }, "token-bot")), "invalid_request");
  assert.equal(code(await post("/v1/leases", { ...good, minCost: -1 }, "token-bot")), "invalid_request");
  assert.equal(code(await post("/v1/leases", [good], "token-bot")), "invalid_request");
  assert.equal(code(await post("/v1/leases", "{", "token-bot")), "invalid_json");
  assert.equal(code(await post("/v1/leases", good, "token-bot", { "content-type": "text/plain" })), "unsupported_media_type");
  const big = await post("/v1/leases", { ...good, holder: "x".repeat(MAX_BODY_BYTES) }, "token-bot");
  assert.equal(big.status, 413);
  assert.equal(code(big), "body_too_large");
  assert.equal(code(await post("/v1/budgets", good, "token-bot")), "not_found");
  const get = await fetch(`${url}/v1/leases`);
  assert.equal(get.status, 405);
  assert.equal(((await get.json()) as Answer).error?.code, "method_not_allowed");
});

const mintFor = (tenant: string, ring: KeyRing = RING, expiresIn = 3600): string => {
  const now = Math.floor(Date.now() / 1000);
  return mintToken(ring, { tenant, subject: "team-a/bot", issuedAt: now - 7200, caveats: [{ type: "expires", at: now + expiresIn }, { type: "calls", max: 2 }] });
};
const callsKey = (token: string): string => {
  const id = (JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as { id: string }).id;
  return `${id}/calls/Infinity`;
};

test("a token's own ceiling: max and window come from the token, refused with the sidecar's code", async () => {
  const token = mintFor("acme");
  const ask = { budget: "token", key: callsKey(token), holder: "pod-1", calls: 50, token };
  const first = await post("/v1/leases", ask, "token-bot");
  assert.equal(first.status, 201);
  assert.equal(first.body.calls, 1); // the token says 2, not the 50 asked for: shrunk near the ceiling
  assert.equal((await post("/v1/leases", ask, "token-other")).status, 201); // the same token, another pod
  const refused = await post("/v1/leases", ask, "token-bot");
  assert.equal(refused.status, 409);
  assert.equal(code(refused), "budget_token_calls");
  // A token attenuated from it shares the counter: the ceiling is keyed by the hop that added it.
  const child = attenuateToken(token, [{ type: "tools", allow: ["files.*"] }]);
  assert.equal(code(await post("/v1/leases", { ...ask, token: child }, "token-bot")), "budget_token_calls");
});

test("a token ceiling is refused for a ceiling the token lacks, a forged, expired or other tenant's token", async () => {
  const token = mintFor("acme");
  const key = callsKey(token);
  const ask = { budget: "token", key, holder: "pod-1", token };
  const absent = await post("/v1/leases", { ...ask, key: key.replace("/calls/Infinity", "/rate/60") }, "token-bot");
  assert.equal(absent.status, 403);
  assert.equal(code(absent), "unknown_token_ceiling");
  assert.equal(code(await post("/v1/leases", { ...ask, key: `other-hop/calls/Infinity` }, "token-bot")), "unknown_token_ceiling");
  // Signed with another key ring: its signature does not verify against the tenant's.
  const forged = mintFor("acme", KeyRing.fromFile(KeyRing.generateFile("k1")));
  const bad = await post("/v1/leases", { ...ask, key: callsKey(forged), token: forged }, "token-bot");
  assert.equal(bad.status, 403);
  assert.equal(code(bad), "invalid_token");
  // Genuine, but globex's: an acme caller cannot spend (or drain) another tenant's counters.
  const globex = mintFor("globex");
  assert.equal(code(await post("/v1/leases", { ...ask, key: callsKey(globex), token: globex }, "token-bot")), "invalid_token");
  const expired = mintFor("acme", RING, -3600);
  assert.equal(code(await post("/v1/leases", { ...ask, key: callsKey(expired), token: expired }, "token-bot")), "invalid_token");
  assert.equal(code(await post("/v1/leases", { budget: "token", key, holder: "pod-1" }, "token-bot")), "invalid_request");
  // The longest token fits the body limit.
  assert.notEqual(code(await post("/v1/leases", { ...ask, token: "x".repeat(MAX_TOKEN_LENGTH) }, "token-bot")), "body_too_large");
});

test("the ledger unreachable: ledger_unavailable, and the error goes to onError", async () => {
  db.stop("fast");
  try {
    const r = await post("/v1/leases", { budget: "team-a/per-agent", key: "team-a/bot", holder: "p" }, "token-bot");
    assert.equal(r.status, 503);
    assert.equal(code(r), "ledger_unavailable");
    assert.ok(errors.length > 0);
  } finally {
    db.start();
  }
});
