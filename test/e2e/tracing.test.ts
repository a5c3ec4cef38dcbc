// OpenTelemetry tracing through a running sidecar and a real (recording) upstream. Most tests
// collect spans with @opentelemetry/sdk-trace's in-memory exporter, passed in through the documented
// test hook (StartOptions.tracing.spanProcessors), because no OTLP collector runs here; everything
// else is the production path: the NodeSDK, its context manager and the W3C propagator. One test
// drives the SDK from OTEL_* alone and receives its OTLP/HTTP (JSON) export on a local HTTP server.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream, type RecordedRequest } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

const PROMPT_KEY = "dev.intentgate/prompt";
const SECRET_ARG = "/data/quarterly-salaries-7f3a9c.csv";
const SECRET_PROMPT = "read the salaries file for Mallory 4471";

/** A fresh agent-side span context, so each test's spans are found by their own trace id. */
function agentContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Replaces every OTEL_* variable of process.env with `vars`; returns what was there before. */
function withEnv(vars: Record<string, string>): Record<string, string> {
  const before: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("OTEL_") || value === undefined) continue;
    before[name] = value;
    delete process.env[name];
  }
  Object.assign(process.env, vars);
  return before;
}

const traceIdOf = (s: ReadableSpan): string => s.spanContext().traceId;
const spanIdOf = (s: ReadableSpan): string => s.spanContext().spanId;

describe("tracing, spans collected in memory through the start-option test hook", () => {
  const exporter = new InMemorySpanExporter();
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: Gateway;
  const tokens: string[] = [];
  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway({ policy: "default", upstreamUrl: upstream.url, start: { tracing: { spanProcessors: [new SimpleSpanProcessor({ exporter })] } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** All finished spans of one trace, once its server span has ended (it ends when the response closes). */
  async function spansOf(traceId: string): Promise<ReadableSpan[]> {
    assert.ok(await eventually(async () => exporter.getFinishedSpans().some((s) => traceIdOf(s) === traceId && s.kind === SpanKind.SERVER)));
    return exporter.getFinishedSpans().filter((s) => traceIdOf(s) === traceId);
  }
  const url = (): string => `${gw.sidecar.url}/mcp/files`;

  test("an allowed call: a server span under the agent's span, a child per check and an upstream span whose context the upstream receives", async () => {
    const agent = agentContext();
    const token = gw.mint();
    tokens.push(token);
    const before = upstream.requests.length;
    const reply = await postRpc(url(), toolCall(1, "read_file", { path: SECRET_ARG }, { [PROMPT_KEY]: SECRET_PROMPT }), token, {
      traceparent: agent.traceparent,
      tracestate: "vendor=abc",
    });
    assert.equal(outcomeOf(reply), "allowed");
    const spans = await spansOf(agent.traceId);

    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    assert.equal(server.name, "mcp POST /mcp/files");
    assert.equal(server.parentSpanContext?.spanId, agent.spanId, "the server span's parent is the agent's span");
    const decisionId = (gw.auditRecords() as Array<{ decision_id?: string }>).filter((r) => r.decision_id !== undefined).at(-1)?.decision_id;
    assert.ok(decisionId !== undefined, "the call's audit record");
    assert.deepEqual(server.attributes, {
      "http.request.method": "POST",
      "http.route": "/mcp/files",
      "intentgate.route.kind": "streamable",
      "intentgate.upstream": "files",
      "http.response.status_code": 200,
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": "read_file",
      "intentgate.decision": "allow",
      "intentgate.reason_code": "allowed",
      "intentgate.decision_id": decisionId,
    });

    const checks = spans.filter((s) => s.name.startsWith("check ")).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    assert.deepEqual(
      checks.map((s) => s.name),
      ["check capability", "check intent", "check policy", "check budget"],
    );
    for (const check of checks) {
      assert.equal(check.parentSpanContext?.spanId, spanIdOf(server));
      assert.equal(check.kind, SpanKind.INTERNAL);
      assert.equal(check.attributes["intentgate.check.outcome"], "pass");
      assert.equal(check.attributes["intentgate.decision_id"], decisionId);
    }

    const client = spans.filter((s) => s.kind === SpanKind.CLIENT);
    assert.equal(client.length, 1);
    const up = client[0] as ReadableSpan;
    assert.equal(up.name, "POST upstream files");
    assert.equal(up.parentSpanContext?.spanId, spanIdOf(server));
    assert.equal(up.attributes["http.response.status_code"], 200);
    assert.equal(up.attributes["server.address"], "127.0.0.1");

    assert.equal(upstream.requests.length, before + 1);
    const received = upstream.requests.at(-1) as RecordedRequest;
    assert.equal(received.headers["traceparent"], `00-${agent.traceId}-${spanIdOf(up)}-01`, "the upstream's parent is the sidecar's upstream span");
    assert.equal(received.headers["tracestate"], "vendor=abc", "the agent's tracestate travels with the trace");
  });

  test("a refused call records its reason code and has no upstream span; the checks after the denial do not run", async () => {
    const agent = agentContext();
    const token = gw.mint([{ type: "tools", allow: ["payments.*"] }]);
    tokens.push(token);
    const before = upstream.requests.length;
    const reply = await postRpc(url(), toolCall(2, "delete_file", { path: SECRET_ARG }), token, { traceparent: agent.traceparent });
    const code = outcomeOf(reply);
    assert.notEqual(code, "allowed");
    const decisionId = (reply.body.result._meta["dev.intentgate/decision"] as { decision_id: string }).decision_id;
    const spans = await spansOf(agent.traceId);

    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    assert.equal(server.attributes["intentgate.decision"], "block");
    assert.equal(server.attributes["intentgate.reason_code"], code);
    assert.equal(server.attributes["intentgate.decision_id"], decisionId);
    assert.equal(server.attributes["http.response.status_code"], 200);
    assert.equal(server.status.code, SpanStatusCode.UNSET, "a refusal is an answer, not a failure of the request");

    const checks = spans.filter((s) => s.name.startsWith("check "));
    assert.deepEqual(
      checks.map((s) => [s.name, s.attributes["intentgate.check.outcome"], s.attributes["intentgate.reason_code"]]),
      [["check capability", "deny", code]],
    );
    assert.equal(spans.filter((s) => s.kind === SpanKind.CLIENT).length, 0, "no upstream span");
    assert.equal(upstream.requests.length, before, "nothing forwarded");
  });

  test("a batch records one decision per tools/call on the server span", async () => {
    const agent = agentContext();
    const token = gw.mint([{ type: "tools", allow: ["files.read_file"] }]);
    tokens.push(token);
    const batch = [toolCall(3, "read_file", { path: SECRET_ARG }), toolCall(4, "delete_file", { path: SECRET_ARG })];
    const reply = await postRpc(url(), batch, token, { traceparent: agent.traceparent, "mcp-protocol-version": "2025-03-26" });
    assert.equal(reply.status, 200);
    const spans = await spansOf(agent.traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    assert.equal(server.attributes["intentgate.tools_calls"], 2);
    assert.deepEqual([...(server.attributes["intentgate.decisions"] as string[])].sort(), ["allow", "block"]);
    assert.equal((server.attributes["intentgate.decision_ids"] as string[]).length, 2);
    assert.equal(server.attributes["intentgate.decision_id"], undefined);
    assert.equal(spans.filter((s) => s.kind === SpanKind.CLIENT).length, 1, "the allowed part is forwarded once");
  });

  test("a request without a traceparent starts a trace; the upstream gets the sidecar's span as parent", async () => {
    const before = upstream.requests.length;
    assert.equal(outcomeOf(await postRpc(url(), toolCall(5, "read_file", { path: SECRET_ARG }), gw.mint())), "allowed");
    const received = upstream.requests[before] as RecordedRequest;
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(received.headers["traceparent"]));
    assert.ok(match, `a W3C traceparent was sent: ${String(received.headers["traceparent"])}`);
    const spans = await spansOf(match[1] as string);
    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    assert.equal(server.parentSpanContext, undefined, "a root span");
    assert.equal(spans.find((s) => s.kind === SpanKind.CLIENT)?.spanContext().spanId, match[2]);
  });

  test("no span carries a token, a prompt or an argument value", () => {
    const spans = exporter.getFinishedSpans();
    assert.ok(spans.length >= 15);
    const text = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, resource: s.resource.attributes })));
    for (const secret of [...tokens, SECRET_ARG, SECRET_PROMPT, "salaries"]) assert.ok(!text.includes(secret), `a span contains ${secret.slice(0, 24)}`);
  });
});

describe("tracing lifecycle", () => {
  test("spans still buffered are flushed on close, and a later sidecar can trace again in the same process", async () => {
    const kept: ReadableSpan[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        kept.push(...spans);
        done({ code: 0 });
      },
      shutdown: async () => {},
    };
    const upstream = await startRecordingUpstream();
    try {
      for (let round = 0; round < 2; round++) {
        // A batch processor that would wait a minute before exporting: only the flush on close exports.
        const processor = new BatchSpanProcessor({ exporter, scheduledDelayMillis: 60_000 });
        const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url, start: { tracing: { spanProcessors: [processor] } } });
        const agent = agentContext();
        try {
          assert.equal(outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(1, "read_file"), gw.mint(), { traceparent: agent.traceparent })), "allowed");
          assert.equal(kept.filter((s) => traceIdOf(s) === agent.traceId).length, 0, "nothing exported before close");
        } finally {
          await gw.close();
        }
        const names = kept.filter((s) => traceIdOf(s) === agent.traceId).map((s) => s.name);
        assert.ok(names.includes("mcp POST /mcp/files") && names.includes("POST upstream files") && names.includes("check budget"), names.join(", "));
        assert.equal(trace.getTracerProvider().getTracer("probe").startSpan("probe").isRecording(), false, "the global provider is released on close");
      }
    } finally {
      await upstream.close();
    }
  });

  test("OTEL_* in the environment alone drive a real OTLP/HTTP export on close (a local HTTP server stands in for the collector)", async () => {
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(Buffer.concat(chunks).toString("utf8"));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const vars = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "gw-under-test",
    };
    const saved = withEnv(vars);
    const upstream = await startRecordingUpstream();
    try {
      const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
      const agent = agentContext();
      try {
        assert.equal(outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(1, "read_file"), gw.mint(), { traceparent: agent.traceparent })), "allowed");
      } finally {
        await gw.close();
      }
      const exported = JSON.stringify(bodies.map((b) => JSON.parse(b) as unknown));
      assert.ok(exported.includes(agent.traceId), "the trace reached the collector");
      for (const name of ["mcp POST /mcp/files", "check capability", "POST upstream files", "gw-under-test"]) assert.ok(exported.includes(name), name);
    } finally {
      withEnv(saved);
      await upstream.close();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });

  test("without tracing the agent's traceparent and tracestate are forwarded unchanged", async () => {
    // Tracing follows process.env; make sure nothing in the environment running the tests turns it on.
    const saved = withEnv({});
    const upstream = await startRecordingUpstream();
    const gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
    try {
      const agent = agentContext();
      const reply = await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(1, "read_file"), gw.mint(), { traceparent: agent.traceparent, tracestate: "vendor=abc" });
      assert.equal(outcomeOf(reply), "allowed");
      const received = upstream.requests.at(-1) as RecordedRequest;
      assert.equal(received.headers["traceparent"], agent.traceparent);
      assert.equal(received.headers["tracestate"], "vendor=abc");
    } finally {
      await gw.close();
      await upstream.close();
      withEnv(saved);
    }
  });
});
