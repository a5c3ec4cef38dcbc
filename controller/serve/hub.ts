// The snapshot subscriptions: each sidecar holds one long-lived response (NDJSON lines). It gets its
// newest snapshot on connect, then a new one whenever its contents change, and a heartbeat naming
// the current version in between, which is what tells the sidecar its snapshot is still current.
import type { ServerResponse } from "node:http";
import { sealSnapshot, type Snapshot } from "../../wire/snapshot.ts";
import { agentId, buildSnapshotBody, type AgentIdentity, type ClusterView } from "../snapshot/build.ts";

export interface Subscriber {
  readonly id: number;
  readonly who: AgentIdentity;
  readonly tenant: string | undefined;
  sent: Snapshot | undefined;
  /** The version the sidecar last said it applied, and the policy versions in it. */
  loaded: { version: string; policies: Map<string, string> } | undefined;
  res: ServerResponse;
}

export type HubLine =
  | { type: "snapshot"; snapshot: Snapshot }
  | { type: "heartbeat"; version: string; at: number }
  | { type: "error"; code: string; message: string };

export interface HubOptions {
  view: ClusterView;
  heartbeatMs: number;
  now?: () => number;
  onChange?: () => void;
}

export class SnapshotHub {
  readonly #options: HubOptions;
  readonly #subscribers = new Map<number, Subscriber>();
  #nextId = 1;
  #timer: NodeJS.Timeout;
  #pending: NodeJS.Timeout | undefined;

  constructor(options: HubOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#heartbeat(), options.heartbeatMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.#subscribers.size;
  }

  subscribers(): Iterable<Subscriber> {
    return this.#subscribers.values();
  }

  /** Starts a subscription on `res` (headers not yet sent). Ends when the connection closes. */
  subscribe(who: AgentIdentity, tenant: string | undefined, res: ServerResponse): Subscriber {
    const sub: Subscriber = { id: this.#nextId++, who, tenant, sent: undefined, loaded: undefined, res };
    this.#subscribers.set(sub.id, sub);
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-accel-buffering": "no" });
    res.on("close", () => {
      this.#subscribers.delete(sub.id);
      this.#options.onChange?.();
    });
    this.#push(sub);
    this.#options.onChange?.();
    return sub;
  }

  /** Records what a sidecar applied; the policies' status counts from this. */
  acknowledge(who: AgentIdentity, podName: string | undefined, version: string): boolean {
    let matched = false;
    for (const sub of this.#subscribers.values()) {
      if (agentId(sub.who) !== agentId(who) || sub.who.podName !== podName || sub.sent?.version !== version) continue;
      sub.loaded = { version, policies: new Map(sub.sent.policies.map((p) => [p.name, p.version])) };
      matched = true;
    }
    if (matched) this.#options.onChange?.();
    return matched;
  }

  /** Something in the cluster changed: rebuild every subscriber's snapshot soon (changes in a burst share one pass). */
  invalidate(): void {
    this.#pending ??= setTimeout(() => {
      this.#pending = undefined;
      for (const sub of this.#subscribers.values()) this.#push(sub);
    }, 20);
  }

  close(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#pending);
    for (const sub of this.#subscribers.values()) sub.res.end();
    this.#subscribers.clear();
  }

  /** Sends the subscriber its snapshot if it changed; "unchanged" when what it has is current. */
  #push(sub: Subscriber): "sent" | "unchanged" | "failed" {
    const built = buildSnapshotBody(this.#options.view, sub.who);
    if (!built.ok) {
      write(sub, { type: "error", code: built.code, message: built.message });
      return "failed";
    }
    const snapshot = sealSnapshot(built.body, this.#nowSeconds());
    if (snapshot.version === sub.sent?.version) return "unchanged";
    sub.sent = snapshot;
    write(sub, { type: "snapshot", snapshot });
    return "sent";
  }

  /** A heartbeat vouches that the sidecar's snapshot is still current, so it is sent only after checking that. */
  #heartbeat(): void {
    for (const sub of this.#subscribers.values()) {
      if (this.#push(sub) === "unchanged" && sub.sent !== undefined) write(sub, { type: "heartbeat", version: sub.sent.version, at: this.#nowSeconds() });
    }
  }

  #nowSeconds(): number {
    return Math.floor((this.#options.now ?? Date.now)() / 1000);
  }
}

function write(sub: Subscriber, line: HubLine): void {
  if (!sub.res.writableEnded) sub.res.write(JSON.stringify(line) + "\n");
}
