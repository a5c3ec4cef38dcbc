// The intent check through a running sidecar in front of the real demo MCP server: the prompt's
// authentication by the token, each extractor against a local server speaking its real wire format
// (IntentGate's /v1/extract; an OpenAI-compatible /v1/chat/completions with structured output), the
// built-in classifier fed by real tools/list answers, caching, deadlines, fail-closed and advisory.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { buildConfig, type ConfigError } from "../../sidecar/config/load.ts";
import { attenuateToken, promptSha256, type Caveat } from "../../wire/index.ts";
import { AGENT, startGateway, type Gateway, type GatewayOptions } from "../support/gateway.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

// ---- a real HTTP server for one JSON endpoint, counting what it receives ----

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}
interface Answer {
  status?: number;
  type?: string;
  body: unknown;
  delayMs?: number;
}
interface JsonServer {
  url: string;
  requests: Received[];
  answer: (body: any) => Answer;
  close(): Promise<void>;
}

async function startJsonServer(answer: (body: any) => Answer): Promise<JsonServer> {
  const state: JsonServer = { url: "", requests: [], answer, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text ? JSON.parse(text) : undefined;
      state.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const a = state.answer(body);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { "content-type": a.type ?? "application/json" });
        res.end(typeof a.body === "string" ? a.body : JSON.stringify(a.body));
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

const recommendation = (over: Partial<Record<string, unknown>> = {}): Record<string, unknown> => ({
  summary: "read the March report",
  allowed_tools: ["files.read_file"],
  forbidden_tools: ["files.delete_file"],
  confidence: 0.9,
  rationale: "the user asks to read one file and not to delete anything",
  ...over,
});
const extractAnswer = (over: Partial<Record<string, unknown>> = {}): Answer => ({ body: { intent: recommendation(over) } });

/** A chat completion with structured output, as OpenAI's API (and compatible servers) return it. */
const completion = (content: string, extra: { refusal?: string; finish_reason?: string } = {}): Answer => ({
  body: {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1767225600,
    model: "gpt-test",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: extra.refusal ? null : content, refusal: extra.refusal ?? null },
        logprobs: null,
        finish_reason: extra.finish_reason ?? "stop",
      },
    ],
    usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
  },
});

// ---- gateway helpers ----

const PROMPT = "Read /data/march.csv and summarise it, but do not delete anything";
const bound = (prompt: string): Caveat[] => [{ type: "tools", allow: ["files.*", "payments.*"] }, { type: "prompt", sha256: promptSha256(prompt) }];
const url = (gw: Gateway, server = "files"): string => `${gw.sidecar.url}/mcp/${server}`;
const argsOf = (tool: string): Record<string, unknown> => (tool === "transfer" ? { amount: 10, currency: "EUR", iban: "NL91ABNA0417164300" } : tool === "list_files" ? { folder: "/data" } : { path: "/data/march.csv" });

/** An MCP SDK client session through the gateway, presenting `token`. */
async function connect(gw: Gateway, token: string, server = "files"): Promise<Client> {
  const client = new Client({ name: "intent-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url(gw, server)), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** One tools/call with the real SDK client: "allowed" when the tool ran, else the gateway's reason code. */
async function callWith(client: Client, tool: string, prompt: string | undefined): Promise<string> {
  const result = await client.callTool({ name: tool, arguments: argsOf(tool), ...(prompt === undefined ? {} : { _meta: { "dev.intentgate/prompt": prompt } }) });
  const decision = result._meta?.["dev.intentgate/decision"] as { code: string } | undefined;
  if (decision !== undefined) return decision.code;
  return result.isError ? "tool_error" : "allowed";
}

async function call(gw: Gateway, tool: string, token: string, prompt: string | undefined, server = "files"): Promise<string> {
  const client = await connect(gw, token, server);
  try {
    return await callWith(client, tool, prompt);
  } finally {
    await client.close();
  }
}

async function withGateway(intent: Record<string, unknown> | undefined, body: (gw: Gateway) => Promise<void>, options: GatewayOptions = {}): Promise<void> {
  const gw = await startGateway({ policy: "default", ...options, config: { ...(intent ? { intent } : {}), ...options.config } });
  try {
    await body(gw);
  } finally {
    await gw.close();
  }
}

describe("the prompt is authenticated by the token's prompt caveat (capability check)", () => {
  let gw: Gateway;
  before(async () => (gw = await startGateway({ policy: "default" })));
  after(() => gw.close());

  test("a token bound to a prompt refuses a call without it (prompt_missing) and with another (prompt_mismatch)", async () => {
    const token = gw.mint(bound(PROMPT));
    assert.equal(await call(gw, "read_file", token, undefined), "prompt_missing");
    assert.equal(await call(gw, "read_file", token, `${PROMPT} `), "prompt_mismatch");
    assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
    assert.equal(gw.demo.calls.length, 1);
  });

  test("a prompt bound to token A, replayed with token B bound to another prompt, is refused", async () => {
    const other = "Pay the Acme invoice";
    const tokenA = gw.mint(bound(PROMPT));
    const tokenB = gw.mint(bound(other));
    assert.equal(await call(gw, "read_file", tokenB, PROMPT), "prompt_mismatch");
    assert.equal(await call(gw, "transfer", tokenA, other, "payments"), "prompt_mismatch");
    assert.equal(await call(gw, "read_file", tokenA, PROMPT), "allowed");
    // Attenuating A with B's prompt binds both: no single prompt satisfies it, so it cannot be rebound.
    const rebound = attenuateToken(tokenA, [{ type: "prompt", sha256: promptSha256(other) }]);
    assert.equal(await call(gw, "read_file", rebound, other), "prompt_mismatch");
    assert.equal(await call(gw, "read_file", rebound, PROMPT), "prompt_mismatch");
  });
});

describe("HTTP extractor (POST /v1/extract)", () => {
  let extractor: JsonServer;
  before(async () => (extractor = await startJsonServer(() => extractAnswer())));
  after(() => extractor.close());
  const config = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ mode: "enforce", extractor: { kind: "http", url: extractor.url, timeoutMs: 1000 }, ...over });

  test("speaks the wire format; allowed passes, forbidden and not-allowed are refused; the second call hits the cache", async () => {
    extractor.requests.length = 0;
    extractor.answer = () => extractAnswer();
    await withGateway(config(), async (gw) => {
      const token = gw.mint(bound(PROMPT));
      assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
      assert.equal(await call(gw, "delete_file", token, PROMPT), "intent_forbidden");
      assert.equal(await call(gw, "list_files", token, PROMPT), "intent_not_allowed");
      assert.equal(extractor.requests.length, 1, "three calls with one prompt: one extraction");
      const [req] = extractor.requests;
      assert.equal(req?.method, "POST");
      assert.equal(req?.path, "/v1/extract");
      assert.match(String(req?.headers["content-type"]), /^application\/json/);
      assert.deepEqual(req?.body, { prompt: PROMPT, agent_id: AGENT });
      assert.equal(gw.demo.calls.length, 1, "only the allowed call reached the tool server");
      const records = (gw.auditRecords() as unknown as Array<Record<string, unknown>>).filter((r) => r["kind"] === "decision");
      assert.deepEqual(records.map((r) => [r["stage"], r["code"]]), [[null, null], ["intent", "intent_forbidden"], ["intent", "intent_not_allowed"]]);
      assert.deepEqual(
        records.map((r) => r["intent"]),
        ["fits", "intent_forbidden", "intent_not_allowed"].map((verdict) => ({ mode: "enforce", verdict, confidence: 0.9, error: null })),
        "each decision record says what the intent check found",
      );
      assert.doesNotMatch(JSON.stringify(records), /read the March report|summarise it|"summary"|"rationale"/, "never the prompt or the extracted summary");

      const second = "List the files in /data";
      const token2 = gw.mint(bound(second));
      extractor.answer = () => extractAnswer({ allowed_tools: ["files.list_files"], forbidden_tools: [] });
      const client = await connect(gw, token2);
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => callWith(client, "list_files", second)));
      await client.close();
      assert.deepEqual(outcomes, Array(8).fill("allowed"));
      assert.equal(extractor.requests.length, 2, "eight concurrent calls with a new prompt share one extraction");
    });
  });

  test("a token without a prompt binding is refused (intent_prompt_unbound) and the extractor is not asked", async () => {
    extractor.requests.length = 0;
    await withGateway(config(), async (gw) => {
      assert.equal(await call(gw, "read_file", gw.mint(), PROMPT), "intent_prompt_unbound");
      assert.equal(await call(gw, "read_file", gw.mint(bound(PROMPT)), undefined), "prompt_missing");
      assert.equal(extractor.requests.length, 0);
    });
  });

  test("an extractor that does not answer within timeoutMs refuses the call (intent_unavailable); nothing is forwarded", async () => {
    extractor.answer = () => ({ ...extractAnswer(), delayMs: 2000 });
    await withGateway(config({ extractor: { kind: "http", url: extractor.url, timeoutMs: 100 } }), async (gw) => {
      const reply = await postRpc(url(gw), toolCall(1, "read_file", { path: "/x" }, { "dev.intentgate/prompt": PROMPT }), gw.mint(bound(PROMPT)));
      assert.equal(outcomeOf(reply), "intent_unavailable");
      assert.equal(reply.body.result.isError, true);
      assert.match(reply.body.result.content[0].text, /did not answer within 100 ms/);
      assert.equal(gw.demo.calls.length, 0);
    });
  });

  test("every malformed answer fails closed; failures are not cached, so a good answer afterwards is used", async () => {
    const bad: Answer[] = [
      { status: 500, body: { error: "model overloaded" } },
      { type: "text/plain", body: "allowed: everything" },
      { body: "{not json" },
      { body: { intent: recommendation(), debug: true } },
      { body: { intent: { ...recommendation(), extra: 1 } } },
      { body: { intent: recommendation({ allowed_tools: ["files.*"] }) } },
      { body: { intent: recommendation({ allowed_tools: ["read_file"] }) } },
      { body: { intent: recommendation({ confidence: 1.5 }) } },
      { body: { intent: recommendation({ confidence: "high" }) } },
      { body: { intent: { summary: "s", allowed_tools: ["files.read_file"], forbidden_tools: [], confidence: 1 } } },
      { body: [] },
    ];
    await withGateway(config(), async (gw) => {
      const token = gw.mint(bound(PROMPT));
      for (const answer of bad) {
        extractor.answer = () => answer;
        assert.equal(await call(gw, "read_file", token, PROMPT), "intent_unavailable", JSON.stringify(answer));
      }
      extractor.answer = () => extractAnswer();
      assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
      assert.equal(gw.demo.calls.length, 1);
    });
  });

  test("an unreachable extractor fails closed", async () => {
    const gone = await startJsonServer(() => extractAnswer());
    const deadUrl = gone.url;
    await gone.close();
    await withGateway(config({ extractor: { kind: "http", url: deadUrl, timeoutMs: 500 } }), async (gw) => {
      assert.equal(await call(gw, "read_file", gw.mint(bound(PROMPT)), PROMPT), "intent_unavailable");
    });
  });

  test("low confidence refuses with lowConfidence: refuse, and is used as-is with allow (lists still enforced)", async () => {
    extractor.answer = () => extractAnswer({ confidence: 0.3 });
    await withGateway(config({ minConfidence: 0.5 }), async (gw) => {
      assert.equal(await call(gw, "read_file", gw.mint(bound(PROMPT)), PROMPT), "intent_low_confidence");
    });
    await withGateway(config({ minConfidence: 0.5, lowConfidence: "allow" }), async (gw) => {
      const token = gw.mint(bound(PROMPT));
      assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
      assert.equal(await call(gw, "delete_file", token, PROMPT), "intent_forbidden");
      assert.equal(await call(gw, "list_files", token, PROMPT), "intent_not_allowed");
    });
  });

  test("advisory mode: an extractor failure lets the call proceed; a forbidding recommendation reaches the policy, which blocks", async () => {
    extractor.answer = () => ({ ...extractAnswer(), delayMs: 2000 });
    await withGateway(config({ mode: "advisory", extractor: { kind: "http", url: extractor.url, timeoutMs: 100 } }), async (gw) => {
      assert.equal(await call(gw, "read_file", gw.mint(bound(PROMPT)), PROMPT), "allowed");
      assert.equal(await call(gw, "read_file", gw.mint(), PROMPT), "allowed", "unbound prompt: advisory records it and goes on");
      assert.equal(gw.demo.calls.length, 2);
      const intents = (gw.auditRecords() as unknown as Array<Record<string, unknown>>).filter((r) => r["kind"] === "decision").map((r) => r["intent"] as Record<string, unknown>);
      assert.deepEqual(intents.map((i) => [i["mode"], i["verdict"], i["confidence"]]), [["advisory", "intent_unavailable", 0], ["advisory", "intent_prompt_unbound", 0]]);
      assert.match(String(intents[0]?.["error"]), /.+/, "the extractor's failure is on the record");
    });
    extractor.answer = () => extractAnswer({ allowed_tools: [], forbidden_tools: ["files.read_file"] });
    await withGateway(config({ mode: "advisory" }), async (gw) => {
      const reply = await postRpc(url(gw), toolCall(1, "read_file", { path: "/x" }, { "dev.intentgate/prompt": PROMPT }), gw.mint(bound(PROMPT)));
      assert.equal(outcomeOf(reply), "policy_blocked");
      assert.match(reply.body.result._meta["dev.intentgate/decision"].reason, /the user's request forbids files\.read_file/);
      assert.equal(gw.demo.calls.length, 0);
    });
  });

  test("apiKeyEnv: the key is sent as a bearer token; a missing variable stops start-up", async () => {
    extractor.requests.length = 0;
    extractor.answer = () => extractAnswer();
    const withKey = config({ extractor: { kind: "http", url: extractor.url, timeoutMs: 1000, apiKeyEnv: "EXTRACTOR_KEY" } });
    await withGateway(withKey, async (gw) => {
      assert.equal(await call(gw, "read_file", gw.mint(bound(PROMPT)), PROMPT), "allowed");
      assert.equal(extractor.requests[0]?.headers["authorization"], "Bearer s3cret");
    }, { start: { env: { EXTRACTOR_KEY: "s3cret" } } });
    await assert.rejects(startGateway({ policy: "default", config: { intent: withKey }, start: { env: {} } }), /EXTRACTOR_KEY/);
  });
});

describe("OpenAI-compatible extractor (POST /v1/chat/completions, structured output)", () => {
  let llm: JsonServer;
  before(async () => (llm = await startJsonServer(() => completion(JSON.stringify(recommendation())))));
  after(() => llm.close());
  const config = (): Record<string, unknown> => ({ mode: "enforce", extractor: { kind: "openai", baseUrl: `${llm.url}/v1`, model: "gpt-test", apiKeyEnv: "OPENAI_API_KEY", timeoutMs: 1000 } });

  test("sends a json_schema response_format with the listed tools; parses choices[0].message.content; caches", async () => {
    llm.requests.length = 0;
    await withGateway(config(), async (gw) => {
      const token = gw.mint(bound(PROMPT));
      // The tools the model is shown come from tools/list answers seen through the sidecar.
      const client = await connect(gw, token);
      try {
        await client.listTools();
        const meta = { "dev.intentgate/prompt": PROMPT };
        const allowed = await client.callTool({ name: "read_file", arguments: { path: "/data/march.csv" }, _meta: meta });
        assert.equal(allowed.isError, undefined);
        const refused = await client.callTool({ name: "delete_file", arguments: { path: "/data/march.csv" }, _meta: meta });
        assert.equal((refused._meta?.["dev.intentgate/decision"] as { code: string }).code, "intent_forbidden");
      } finally {
        await client.close();
      }
      assert.equal(llm.requests.length, 1);
      const req = llm.requests[0] as Received;
      assert.equal(req.path, "/v1/chat/completions");
      assert.equal(req.headers["authorization"], "Bearer sk-test");
      assert.equal(req.body.model, "gpt-test");
      assert.equal(req.body.temperature, 0);
      assert.equal(req.body.response_format.type, "json_schema");
      assert.equal(req.body.response_format.json_schema.strict, true);
      assert.deepEqual(req.body.response_format.json_schema.schema.required, ["summary", "allowed_tools", "forbidden_tools", "confidence", "rationale"]);
      assert.equal(req.body.response_format.json_schema.schema.additionalProperties, false);
      assert.deepEqual(req.body.messages.map((m: { role: string }) => m.role), ["system", "user"]);
      assert.equal(req.body.messages[1].content, PROMPT);
      assert.match(req.body.messages[0].content, /- files\.read_file: Read a file under \/data/);
      assert.match(req.body.messages[0].content, /- files\.transfer: Transfer money to an IBAN/);
    }, { start: { env: { OPENAI_API_KEY: "sk-test" } } });
  });

  test("a refusal, a truncated completion, content that is not the schema, or an HTTP error fail closed", async () => {
    const bad: Answer[] = [
      completion("", { refusal: "I can't help with that." }),
      completion(JSON.stringify(recommendation()).slice(0, 40), { finish_reason: "length" }),
      completion("Sure! Here is the JSON you asked for."),
      completion(JSON.stringify({ ...recommendation(), allowed_tools: "files.read_file" })),
      { body: { choices: [] } },
      { status: 429, body: { error: { message: "Rate limit reached", type: "requests" } } },
    ];
    await withGateway(config(), async (gw) => {
      const token = gw.mint(bound(PROMPT));
      for (const answer of bad) {
        llm.answer = () => answer;
        assert.equal(await call(gw, "read_file", token, PROMPT), "intent_unavailable", JSON.stringify(answer.body).slice(0, 120));
      }
      llm.answer = () => completion(JSON.stringify(recommendation()));
      assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
    }, { start: { env: { OPENAI_API_KEY: "sk-test" } } });
  });
});

describe("built-in classifier (no network, tools/list answers as its vocabulary)", () => {
  test("knows only listed tools; then allows what the prompt names and forbids what it rules out", async () => {
    await withGateway({ mode: "enforce", extractor: { kind: "builtin" } }, async (gw) => {
      const pay = "Pay Acme Corp 250 EUR for the March invoice";
      const payToken = gw.mint(bound(pay));
      assert.equal(await call(gw, "transfer", payToken, pay, "payments"), "intent_not_allowed", "no tools/list seen yet");

      const token = gw.mint(bound(PROMPT));
      for (const server of ["files", "payments"]) {
        const client = await connect(gw, token, server);
        await client.listTools();
        await client.close();
      }
      assert.equal(await call(gw, "read_file", token, PROMPT), "allowed");
      assert.equal(await call(gw, "delete_file", token, PROMPT), "intent_forbidden");
      assert.equal(await call(gw, "transfer", token, PROMPT, "payments"), "intent_not_allowed");
      assert.equal(await call(gw, "transfer", payToken, pay, "payments"), "allowed");
      assert.equal(await call(gw, "read_file", payToken, pay), "intent_not_allowed");
    });
  });
});

describe("intent configuration", () => {
  const base = { tenant: "acme", agent: "a", keys: "k.json", upstreams: [{ name: "files", url: "http://127.0.0.1:1/mcp" }], policy: { bundle: "p.wasm" }, audit: { spool: "s", keys: "ak.json" } };
  const problems = (intent: unknown): string[] => {
    try {
      buildConfig({ ...base, intent }, {}, "/tmp");
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  test("defaults: off, minConfidence 0.5, refuse, cache 10000 x 300 s; extractor timeouts default to 2000 ms", () => {
    const config = buildConfig(base, {}, "/tmp");
    assert.deepEqual(config.intent, { mode: "off", minConfidence: 0.5, lowConfidence: "refuse", cache: { maxEntries: 10000, ttlSeconds: 300 } });
    const http = buildConfig({ ...base, intent: { mode: "enforce", extractor: { kind: "http", url: "http://x:1" } } }, {}, "/tmp");
    assert.deepEqual(http.intent.extractor, { kind: "http", url: "http://x:1", timeoutMs: 2000 });
    assert.ok(Object.isFrozen(http.intent.extractor));
  });

  test("a mode without an extractor, an unknown kind or key, and out-of-range values are refused", () => {
    assert.deepEqual(problems({ mode: "enforce" }), ['/intent: mode "enforce" needs an extractor']);
    assert.ok(problems({ mode: "advisory", extractor: { kind: "grpc", url: "http://x" } }).length > 0);
    assert.ok(problems({ mode: "enforce", extractor: { kind: "builtin", url: "http://x" } }).length > 0);
    assert.ok(problems({ mode: "enforce", extractor: { kind: "openai", baseUrl: "http://x" } }).length > 0, "openai needs a model");
    assert.ok(problems({ mode: "enforce", extractor: { kind: "http", url: "ftp://x" } }).length > 0);
    assert.ok(problems({ mode: "enforce", extractor: { kind: "http", url: "http://x", timeoutMs: 5 } }).length > 0);
    assert.ok(problems({ mode: "enforce", extractor: { kind: "builtin" }, minConfidence: 1.5 }).length > 0);
    assert.ok(problems({ mode: "enforce", extractor: { kind: "builtin" }, lowConfidence: "ignore" }).length > 0);
    assert.ok(problems({ mode: "on" }).length > 0);
    assert.deepEqual(problems({ mode: "advisory", extractor: { kind: "openai", baseUrl: "http://x/v1", model: "m", apiKeyEnv: "OPENAI_API_KEY" } }), []);
  });
});
