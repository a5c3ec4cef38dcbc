// OpenTelemetry tracing through the NodeSDK, switched on only by the standard OTEL_* variables.
// When they do not ask for traces nothing starts: no provider, no context manager, and the request
// path is built without span code (see spans.ts), so an untraced sidecar pays nothing per request.
import { context, diag, DiagLogLevel, logs, propagation, trace, type DiagLogger, type Tracer } from "@opentelemetry/api";
import { NodeSDK, type NodeSDKConfiguration } from "@opentelemetry/sdk-node";
import type { Logger } from "pino";

export const DEFAULT_SERVICE_NAME = "intentgate-sidecar";
/** The instrumentation scope of every span the sidecar makes. */
export const TRACER_NAME = "intentgate-sidecar";

export interface TracingConfig {
  enabled: boolean;
  /** OTEL_SERVICE_NAME, else intentgate-sidecar. */
  serviceName: string;
  /** Why tracing is on or off, for the start-up log line. */
  reason: string;
}

/**
 * Whether the standard variables configure traces, read the way the SDK reads them: off when
 * OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER starts with "none"; on when OTEL_TRACES_EXPORTER
 * names an exporter or an OTLP endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT)
 * is set; off otherwise, so a sidecar never exports to a default endpoint nobody asked for.
 */
export function tracingConfigFromEnv(env: NodeJS.ProcessEnv): TracingConfig {
  const serviceName = env["OTEL_SERVICE_NAME"]?.trim() || DEFAULT_SERVICE_NAME;
  const result = (enabled: boolean, reason: string): TracingConfig => ({ enabled, serviceName, reason });
  if (env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true") return result(false, "OTEL_SDK_DISABLED is true");
  const exporters = (env["OTEL_TRACES_EXPORTER"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s !== "null");
  if (exporters[0] === "none") return result(false, "OTEL_TRACES_EXPORTER is none");
  if (exporters.length > 0) return result(true, `OTEL_TRACES_EXPORTER is ${exporters.join(",")}`);
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]) {
    if (env[name]?.trim()) return result(true, `${name} is set`);
  }
  return result(false, "neither OTEL_TRACES_EXPORTER nor an OTLP endpoint is set");
}

export type SpanProcessors = NonNullable<NodeSDKConfiguration["spanProcessors"]>;

export interface TracingOptions {
  serviceName: string;
  log: Logger;
  /** OTEL_LOG_LEVEL: how much of the SDK's own diagnostics reach the log (default warn). */
  diagLevel?: string | undefined;
  /**
   * Test hook: these span processors instead of the exporters that OTEL_* would build (an OTLP
   * collector does not run in the test environment; tests pass an in-memory exporter here).
   */
  spanProcessors?: SpanProcessors;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** Flushes the spans still buffered, then releases the process-wide OpenTelemetry registrations. */
  shutdown(): Promise<void>;
}

let running = false;

/** Starts the NodeSDK for traces only: no auto-instrumentation, no metrics (Prometheus has them), no log export. */
export function startTracing(options: TracingOptions): Tracing {
  if (running) throw new Error("OpenTelemetry tracing is already running in this process (one traced sidecar per process)");
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors !== undefined ? { spanProcessors: options.spanProcessors } : {}),
  });
  // After the constructor, which installs a console logger when OTEL_LOG_LEVEL is set.
  diag.setLogger(diagLogger(options.log.child({ source: "opentelemetry" })), { logLevel: diagLevel(options.diagLevel), suppressOverrideMessage: true });
  sdk.start();
  running = true;
  return {
    tracer: trace.getTracer(TRACER_NAME),
    async shutdown() {
      try {
        await sdk.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        logs.disable();
        diag.disable();
        running = false;
      }
    },
  };
}

function diagLogger(log: Logger): DiagLogger {
  return {
    error: (message, ...args) => log.error({ args }, message),
    warn: (message, ...args) => log.warn({ args }, message),
    info: (message, ...args) => log.info({ args }, message),
    debug: (message, ...args) => log.debug({ args }, message),
    verbose: (message, ...args) => log.trace({ args }, message),
  };
}

const DIAG_LEVELS: Readonly<Record<string, DiagLogLevel>> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

function diagLevel(value: string | undefined): DiagLogLevel {
  return DIAG_LEVELS[value?.trim().toLowerCase() ?? ""] ?? DiagLogLevel.WARN;
}
