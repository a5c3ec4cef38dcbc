// Which OTEL_* settings turn tracing on: the detection is a pure function of the environment.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SERVICE_NAME, tracingConfigFromEnv } from "./tracing.ts";

const on = (env: NodeJS.ProcessEnv): boolean => tracingConfigFromEnv(env).enabled;

test("nothing set: tracing is off (no export to a default endpoint nobody asked for)", () => {
  const config = tracingConfigFromEnv({});
  assert.equal(config.enabled, false);
  assert.equal(config.serviceName, DEFAULT_SERVICE_NAME);
  assert.equal(on({ OTEL_SERVICE_NAME: "x", OTEL_PROPAGATORS: "tracecontext", OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://c:4318" }), false);
});

test("an exporter in OTEL_TRACES_EXPORTER turns it on; none (first) or only blanks/null do not", () => {
  assert.equal(on({ OTEL_TRACES_EXPORTER: "otlp" }), true);
  assert.equal(on({ OTEL_TRACES_EXPORTER: " console , otlp " }), true);
  assert.equal(on({ OTEL_TRACES_EXPORTER: "zipkin" }), true);
  assert.equal(on({ OTEL_TRACES_EXPORTER: "none" }), false);
  assert.equal(on({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }), false);
  assert.equal(on({ OTEL_TRACES_EXPORTER: " , null" }), false);
  assert.equal(on({ OTEL_TRACES_EXPORTER: "", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }), true);
});

test("an OTLP endpoint (general or traces-specific) turns it on", () => {
  assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), true);
  assert.equal(on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }), true);
  assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " }), false);
  assert.match(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c" }).reason, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
});

test("OTEL_SDK_DISABLED=true wins over everything; other values do not disable", () => {
  assert.equal(on({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }), false);
  assert.equal(on({ OTEL_SDK_DISABLED: " TRUE ", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }), false);
  assert.equal(on({ OTEL_SDK_DISABLED: "false", OTEL_TRACES_EXPORTER: "otlp" }), true);
  assert.equal(on({ OTEL_SDK_DISABLED: "1", OTEL_TRACES_EXPORTER: "otlp" }), true);
});

test("the service name comes from OTEL_SERVICE_NAME, else intentgate-sidecar", () => {
  assert.equal(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SERVICE_NAME: "payments-agent-gw" }).serviceName, "payments-agent-gw");
  assert.equal(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SERVICE_NAME: " " }).serviceName, "intentgate-sidecar");
  assert.equal(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: "otlp" }).serviceName, "intentgate-sidecar");
});
