// The controller's /metrics: reconciles, compilations, subscribers and leadership, and the Node
// process's own metrics under the same prefix as the sidecar's (the scrape's job tells them apart).
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { QueueResult } from "./kube/queue.ts";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: "intentgate_controller_reconciles_total", help: "Reconciles by kind and result (ok, retry, terminal).", labelNames: ["kind", "result"], registers: [this.registry] });
  readonly compilations = new Counter({ name: "intentgate_controller_policy_compilations_total", help: "opa build runs by result.", labelNames: ["result"], registers: [this.registry] });
  readonly subscribers = new Gauge({ name: "intentgate_controller_subscribers", help: "Sidecars holding a snapshot subscription to this replica.", registers: [this.registry] });
  readonly compiledPolicies = new Gauge({ name: "intentgate_controller_compiled_policies", help: "Compiled policy generations held in memory.", registers: [this.registry] });
  readonly leader = new Gauge({ name: "intentgate_controller_leader", help: "1 while this replica holds the leader Lease.", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "intentgate_process_" });
  }

  observeReconcile(result: QueueResult): void {
    const kind = result.key.split("/")[0] ?? "";
    this.reconciles.inc({ kind, result: result.outcome });
  }

  update(values: { subscribers: number; compiled: number }): void {
    this.subscribers.set(values.subscribers);
    this.compiledPolicies.set(values.compiled);
  }
}
