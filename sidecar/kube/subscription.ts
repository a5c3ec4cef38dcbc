// The sidecar's end of the snapshot subscription: one long-lived GET to the controller, read as
// NDJSON lines, reconnecting with capped exponential backoff and jitter. The service-account token is
// read from its file on every connect, so the kubelet's rotation is picked up. A line that does not
// parse or a snapshot whose version does not match its contents ends the connection (and is reported).
import { randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Agent, request } from "undici";
import { checkSnapshot, type Snapshot } from "../../wire/snapshot.ts";

export interface SubscriptionEvents {
  snapshot(snapshot: Snapshot): void | Promise<void>;
  /** The controller vouches that `version` is still current. */
  heartbeat(version: string): void;
  /** The controller cannot build this sidecar's snapshot (e.g. no tenant owns the namespace). */
  refused(code: string, message: string): void;
  disconnected(reason: string): void;
}

export interface SubscriptionOptions {
  controllerUrl: string;
  tokenFile: string;
  /** Reconnect when nothing (not even a heartbeat) arrived for this long. */
  idleTimeoutMs: number;
  maxBackoffMs?: number;
  /** PEM CA bundle of an https controller with its own CA. */
  ca?: string;
}

export class Subscription {
  readonly #options: SubscriptionOptions;
  readonly #events: SubscriptionEvents;
  #stopped = false;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  readonly #dispatcher: Agent;

  constructor(options: SubscriptionOptions, events: SubscriptionEvents) {
    this.#options = options;
    this.#events = events;
    this.#dispatcher = new Agent({ connections: 2, ...(options.ca !== undefined ? { connect: { ca: options.ca } } : {}) });
  }

  start(): this {
    this.#loop = this.#run();
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
    await this.#dispatcher.close();
  }

  /** Tells the controller which snapshot this sidecar applied (feeds the policies' "loaded by" status). */
  async acknowledge(version: string): Promise<void> {
    const token = (await readFile(this.#options.tokenFile, "utf8")).trim();
    const res = await request(new URL("/v1/snapshots/ack", this.#options.controllerUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ version }),
      signal: AbortSignal.timeout(10_000),
      dispatcher: this.#dispatcher,
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`acknowledgement refused with HTTP ${res.statusCode}`);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const started = Date.now();
      try {
        await this.#connectOnce();
        this.#events.disconnected("the controller ended the subscription");
      } catch (error) {
        if (this.#stopped) return;
        this.#events.disconnected((error as Error).message);
      }
      failures = Date.now() - started > 30_000 ? 1 : failures + 1;
      const cap = this.#options.maxBackoffMs ?? 10_000;
      const delay = Math.min(cap, 200 * 2 ** Math.min(failures, 10));
      await sleep(delay / 2 + randomInt(Math.max(1, Math.floor(delay / 2))), this.#abort.signal);
    }
  }

  async #connectOnce(): Promise<void> {
    const token = (await readFile(this.#options.tokenFile, "utf8")).trim();
    const idle = new AbortController();
    const signal = AbortSignal.any([this.#abort.signal, idle.signal]);
    let timer = setTimeout(() => idle.abort(new Error("subscription idle")), this.#options.idleTimeoutMs);
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Error("subscription idle: no heartbeat")), this.#options.idleTimeoutMs);
    };
    try {
      const res = await request(new URL("/v1/snapshots/watch", this.#options.controllerUrl), {
        method: "GET",
        headers: { authorization: `Bearer ${token}`, accept: "application/x-ndjson" },
        signal,
        bodyTimeout: 0,
        dispatcher: this.#dispatcher,
      });
      if (res.statusCode !== 200) {
        const text = (await res.body.text()).slice(0, 500);
        throw new Error(`controller answered HTTP ${res.statusCode}: ${text}`);
      }
      let buffered = "";
      for await (const chunk of res.body) {
        touch();
        buffered += (chunk as Buffer).toString("utf8");
        let nl;
        while ((nl = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line !== "") await this.#handle(line);
        }
        if (buffered.length > 64 * 1024 * 1024) throw new Error("subscription line too long");
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #handle(line: string): Promise<void> {
    const message = JSON.parse(line) as { type?: unknown; snapshot?: unknown; version?: unknown; code?: unknown; message?: unknown };
    if (message.type === "snapshot") {
      const checked = checkSnapshot(message.snapshot);
      if (!checked.ok) throw new Error(`invalid snapshot: ${checked.reason}`);
      await this.#events.snapshot(checked.snapshot);
    } else if (message.type === "heartbeat" && typeof message.version === "string") {
      this.#events.heartbeat(message.version);
    } else if (message.type === "error") {
      this.#events.refused(String(message.code), String(message.message));
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
