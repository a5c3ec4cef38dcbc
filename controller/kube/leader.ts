// Leader election with a coordination.k8s.io/v1 Lease, as client-go does it. A candidate takes the
// Lease when it is free, released, or unrenewed for its holder's lease duration as measured on the
// candidate's own clock from when it last saw the record change (never from the record's timestamps,
// so clock skew between replicas cannot matter). The leader renews every retry period; if no renewal
// has succeeded for the renew deadline (< lease duration), it stops leading before anyone else may start.
// Writes carry the Lease's resourceVersion, so two candidates can never both win one round.
import { randomInt } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { KubeApiError, kubeJson } from "./client.ts";

export interface LeaderElectorOptions {
  kc: KubeConfig;
  namespace: string;
  /** Lease name, e.g. "intentgate-controller". */
  name: string;
  /** This replica's identity (the pod name). */
  identity: string;
  /** How long others wait on an unrenewed Lease before taking it. Whole seconds. Default 15000. */
  leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renewal. Default 10000. */
  renewDeadlineMs?: number;
  /** Time between attempts (to acquire, or to renew). Default 2000. */
  retryPeriodMs?: number;
  /** Called on becoming leader; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when leadership ends (lost, or stop()); awaited before the Lease is released. */
  onStoppedLeading(): void | Promise<void>;
  /** Called when the observed holder changes ("" when nobody holds the Lease). */
  onNewLeader?(identity: string): void;
  log?: Pick<Logger, "warn" | "info">;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export class LeaderElectionConfigError extends Error {
  readonly code = "leader_election_config_invalid";
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (date: Date): string => date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectorOptions, "onNewLeader" | "log">> & Pick<LeaderElectorOptions, "onNewLeader" | "log">;
  readonly #path: string;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  /** The record last seen and when (monotonic ms) it was first seen with that content. */
  #observed: { spec: LeaseSpec; resourceVersion: string; at: number } | undefined;
  /** Monotonic start time of the last attempt that renewed or acquired the Lease. */
  #lastRenew = -Infinity;
  #leading = false;
  #holder = "";

  constructor(options: LeaderElectorOptions) {
    const o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000, ...options };
    if (o.leaseDurationMs % 1000 !== 0 || o.leaseDurationMs < 1000) throw new LeaderElectionConfigError("leaseDurationMs must be whole seconds");
    if (o.renewDeadlineMs >= o.leaseDurationMs) throw new LeaderElectionConfigError("renewDeadlineMs must be shorter than leaseDurationMs");
    if (o.retryPeriodMs * 1.2 >= o.renewDeadlineMs) throw new LeaderElectionConfigError("retryPeriodMs (with 20% jitter) must be shorter than renewDeadlineMs");
    if (o.identity === "") throw new LeaderElectionConfigError("identity must not be empty");
    this.#o = o;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases`;
  }

  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Stops: ends leadership (onStoppedLeading), then releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  /** True only while a renewal has succeeded within the renew deadline (checked now, not when a timer last ran). */
  isLeader(): boolean {
    return this.#leading && performance.now() < this.#lastRenew + this.#o.renewDeadlineMs;
  }

  /** The holder last observed ("" if none). */
  leader(): string {
    return this.#holder;
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      if (!(await this.#attempt(this.#o.renewDeadlineMs))) {
        await sleep(this.#jittered(), stop);
        continue;
      }
      this.#leading = true;
      const term = new AbortController();
      this.#o.log?.info({ lease: this.#o.name, identity: this.#o.identity }, "became leader");
      void Promise.resolve()
        .then(() => this.#o.onStartedLeading(term.signal))
        .catch((error: unknown) => this.#o.log?.warn({ err: String(error) }, "onStartedLeading failed"));
      while (!stop.aborted) {
        await sleep(this.#o.retryPeriodMs, stop);
        if (stop.aborted) break;
        const remaining = this.#lastRenew + this.#o.renewDeadlineMs - performance.now();
        if (remaining > 0 && (await this.#attempt(remaining))) continue;
        if (performance.now() >= this.#lastRenew + this.#o.renewDeadlineMs) {
          this.#o.log?.warn({ lease: this.#o.name, identity: this.#o.identity }, "leadership lost: no renewal within the renew deadline");
          break;
        }
      }
      this.#leading = false;
      term.abort();
      await Promise.resolve()
        .then(() => this.#o.onStoppedLeading())
        .catch((error: unknown) => this.#o.log?.warn({ err: String(error) }, "onStoppedLeading failed"));
      if (stop.aborted) await this.#release();
    }
  }

  #jittered(): number {
    return this.#o.retryPeriodMs + randomInt(Math.floor(this.#o.retryPeriodMs * 0.2) + 1);
  }

  /** One round: read the Lease, take or renew it if allowed. True when we hold it now. */
  async #attempt(timeoutMs: number): Promise<boolean> {
    const started = performance.now();
    const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
    const now = microTime(new Date());
    const durationSeconds = this.#o.leaseDurationMs / 1000;
    try {
      let lease: Lease;
      try {
        lease = await kubeJson<Lease>(this.#o.kc, { path: `${this.#path}/${this.#o.name}`, signal });
      } catch (error) {
        if (!(error instanceof KubeApiError && error.statusCode === 404)) throw error;
        const created = await kubeJson<Lease>(this.#o.kc, {
          method: "POST",
          path: this.#path,
          signal,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: { holderIdentity: this.#o.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        this.#won(created, started);
        return true;
      }
      this.#observe(lease);
      const holder = lease.spec.holderIdentity ?? "";
      const heldByOther = holder !== "" && holder !== this.#o.identity;
      const expiresAt = this.#observed!.at + (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && performance.now() < expiresAt) return false;
      if (holder !== this.#o.identity && this.#leading) return false; // someone took it: never renew over them
      const spec: LeaseSpec = {
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: holder === this.#o.identity ? (lease.spec.acquireTime ?? now) : now,
        leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (holder === this.#o.identity ? 0 : 1),
      };
      const updated = await kubeJson<Lease>(this.#o.kc, {
        method: "PUT",
        path: `${this.#path}/${this.#o.name}`,
        signal,
        body: { ...lease, spec: { ...lease.spec, ...spec } },
      });
      this.#won(updated, started);
      return true;
    } catch (error) {
      // 409: another replica wrote first (or created it first); anything else: try again next round.
      if (!(error instanceof KubeApiError && error.statusCode === 409)) {
        this.#o.log?.warn({ lease: this.#o.name, err: (error as Error).message }, "lease attempt failed");
      }
      return false;
    }
  }

  #won(lease: Lease, started: number): void {
    this.#lastRenew = started;
    this.#observe(lease);
  }

  #observe(lease: Lease): void {
    const resourceVersion = lease.metadata.resourceVersion ?? "";
    if (this.#observed?.resourceVersion !== resourceVersion) this.#observed = { spec: lease.spec, resourceVersion, at: performance.now() };
    const holder = lease.spec.holderIdentity ?? "";
    if (holder !== this.#holder) {
      this.#holder = holder;
      try {
        this.#o.onNewLeader?.(holder);
      } catch {
        /* an observer must not break the election */
      }
    }
  }

  /** Gives the Lease up (only if we still hold it), so the next candidate need not wait out the lease duration. */
  async #release(): Promise<void> {
    try {
      const signal = AbortSignal.timeout(this.#o.renewDeadlineMs);
      const lease = await kubeJson<Lease>(this.#o.kc, { path: `${this.#path}/${this.#o.name}`, signal });
      if (lease.spec.holderIdentity !== this.#o.identity) return;
      const now = microTime(new Date());
      await kubeJson<Lease>(this.#o.kc, {
        method: "PUT",
        path: `${this.#path}/${this.#o.name}`,
        signal,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: now, acquireTime: null } },
      });
    } catch (error) {
      this.#o.log?.warn({ lease: this.#o.name, err: (error as Error).message }, "lease release failed: others take over after the lease duration");
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
