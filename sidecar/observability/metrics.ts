// Prometheus metrics, one registry per sidecar, handles built once. Labels are bounded sets
// (stages, decisions, reason codes, configured upstream names): never tools, agents or tokens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({ name: "intentgate_decisions_total", help: "Tool-call decisions by deciding stage, decision and reason code.", labelNames: ["stage", "decision", "code"], registers: [this.registry] });
  readonly checkSeconds = new Histogram({
    name: "intentgate_check_duration_seconds",
    help: "Time spent in each check.",
    labelNames: ["stage", "outcome"],
    buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [this.registry],
  });
  readonly upstreamSeconds = new Histogram({
    name: "intentgate_upstream_duration_seconds",
    help: "Time to the upstream's response headers, by upstream and outcome.",
    labelNames: ["upstream", "outcome"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly requests = new Counter({ name: "intentgate_http_requests_total", help: "HTTP requests by route kind, method and status.", labelNames: ["route", "method", "status"], registers: [this.registry] });
  readonly inflight = new Gauge({ name: "intentgate_inflight_requests", help: "Requests being handled now.", registers: [this.registry] });
  readonly revocationLookups = new Counter({ name: "intentgate_revocation_lookups_total", help: "Revocation lookups by result.", labelNames: ["result"], registers: [this.registry] });
  readonly revocationEntries = new Gauge({ name: "intentgate_revocation_list_entries", help: "Entries in the loaded revocation list.", registers: [this.registry] });
  readonly policyBundle = new Gauge({ name: "intentgate_policy_bundle_info", help: "The loaded policy bundle (value 1), by version.", labelNames: ["version"], registers: [this.registry] });
  readonly policyReloads = new Counter({ name: "intentgate_policy_reloads_total", help: "Policy bundle reloads by result.", labelNames: ["result"], registers: [this.registry] });
  readonly auditFailures = new Counter({ name: "intentgate_audit_write_failures_total", help: "Decisions that could not be recorded (their calls were refused).", registers: [this.registry] });
  readonly droppedEvents = new Counter({ name: "intentgate_upstream_messages_dropped_total", help: "Upstream messages not relayed (unknown response id, invalid JSON).", registers: [this.registry] });
  readonly auditSpoolBytes = new Gauge({ name: "intentgate_audit_spool_pending_bytes", help: "Bytes of audit records in the local spool that the database has not acknowledged.", registers: [this.registry] });
  readonly auditShipped = new Counter({ name: "intentgate_audit_shipped_total", help: "Audit records and checkpoints newly stored in the audit database, by kind.", labelNames: ["kind"], registers: [this.registry] });
  readonly auditShipFailures = new Counter({ name: "intentgate_audit_ship_failures_total", help: "Failed attempts to ship the audit spool to the database.", registers: [this.registry] });
  readonly auditDatabaseUp = new Gauge({ name: "intentgate_audit_database_up", help: "1 when the last attempt to use the audit database succeeded (checked every 15 s when idle), 0 when it failed or no database is configured.", registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "intentgate_process_" });
  }

  // Per-call hot path: each label set's child is looked up once, then kept, instead of prom-client
  // hashing a label object on every observation. Label values are bounded sets (see above).
  readonly #checks = new Children((stage: string, outcome: string) => this.checkSeconds.labels(stage, outcome));
  readonly #decisions = new Children((stage: string, decision: string, code: string) => this.decisions.labels(stage, decision, code));
  readonly #upstream = new Children((upstream: string, outcome: string) => this.upstreamSeconds.labels(upstream, outcome));
  readonly #requests = new Children((route: string, method: string, status: string) => this.requests.labels(route, method, status));

  observeCheck(stage: string, outcome: string, seconds: number): void {
    this.#checks.get(stage, outcome).observe(seconds);
  }

  countDecision(stage: string, decision: string, code: string): void {
    this.#decisions.get(stage, decision, code).inc();
  }

  observeUpstream(upstream: string, outcome: string, seconds: number): void {
    this.#upstream.get(upstream, outcome).observe(seconds);
  }

  countRequest(route: string, method: string, status: string): void {
    this.#requests.get(route, method, status).inc();
  }

  setPolicyVersion(version: string): void {
    this.policyBundle.reset();
    this.policyBundle.set({ version }, 1);
  }
}

/** The children of one labelled metric, by label values: one map level per label, no key string built per call. */
class Children<Labels extends string[], Child> {
  readonly #root = new Map<string, unknown>();
  readonly #make: (...labels: Labels) => Child;

  constructor(make: (...labels: Labels) => Child) {
    this.#make = make;
  }

  get(...labels: Labels): Child {
    let level = this.#root;
    const last = labels.length - 1;
    for (let i = 0; i < last; i++) {
      const label = labels[i] as string;
      let next = level.get(label) as Map<string, unknown> | undefined;
      if (next === undefined) level.set(label, (next = new Map()));
      level = next;
    }
    const key = labels[last] as string;
    let child = level.get(key) as Child | undefined;
    if (child === undefined) level.set(key, (child = this.#make(...labels)));
    return child;
  }
}
