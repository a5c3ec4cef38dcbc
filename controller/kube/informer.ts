// A resilient informer for any resource: list, then watch from the list's resourceVersion, into an
// in-memory store that calls add/update/delete handlers. It never gives up: any error restarts the
// watch with exponential backoff and jitter; 410 Gone (the resourceVersion left the server's window)
// relists and emits the differences; a watch silent for longer than a bound (a half-open connection
// that will never deliver again) is dropped by a watchdog and restarted. Handlers must be idempotent:
// a relist can repeat what they have seen.
import { randomInt } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { KubeApiError, apiError, kubeFetch, kubeJson } from "./client.ts";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [field: string]: unknown };
}

export interface InformerHandlers<T> {
  add?(object: T): void;
  update?(object: T, old: T): void;
  delete?(object: T): void;
}

export interface InformerOptions {
  kc: KubeConfig;
  /** Collection path: "/api/v1/secrets", "/api/v1/namespaces/ns/pods", "/apis/intentgate.dev/v1alpha1/toolpolicies". */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch duration (`timeoutSeconds`); each watch draws from [n, 1.5 n). Default 30. */
  watchTimeoutSeconds?: number;
  /**
   * Watchdog: a watch that receives nothing for this long is restarted. Keep it above 1.5 x
   * watchTimeoutSeconds: the API server ends healthy watches by then, and sends bookmarks only about
   * every two minutes, so a quiet healthy watch is never mistaken for a dead one. Default 60000.
   */
  idleTimeoutMs?: number;
  /** Bound on a list page or on a watch's response headers. Default 30000. */
  requestTimeoutMs?: number;
  /** Restart delay: starts here, doubles per consecutive failure, up to maxBackoffMs; jittered to [d/2, d]. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  pageSize?: number;
  log?: Pick<Logger, "warn" | "info" | "debug">;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** 410 Gone answers (each followed by a relist). */
  expired: number;
  watchdogRestarts: number;
  failures: number;
  lastError?: string;
}

interface ListAnswer<T> {
  kind?: string;
  apiVersion?: string;
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; reason?: string; message?: string };
}

class WatchdogTimeout extends Error {}

const storeKey = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`;

export class Informer<T extends KubeObject> {
  readonly #o: Required<Omit<InformerOptions, "labelSelector" | "fieldSelector" | "log">> & Pick<InformerOptions, "labelSelector" | "fieldSelector" | "log">;
  readonly #store = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #stop = new AbortController();
  readonly #stats: InformerStats = { lists: 0, watches: 0, expired: 0, watchdogRestarts: 0, failures: 0 };
  #resourceVersion = "";
  #synced = false;
  #syncWaiters: Array<() => void> = [];
  #running: Promise<void> | undefined;

  constructor(options: InformerOptions) {
    this.#o = {
      watchTimeoutSeconds: 30,
      idleTimeoutMs: 60_000,
      requestTimeoutMs: 30_000,
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      pageSize: 500,
      ...options,
    };
  }

  on(handlers: InformerHandlers<T>): this {
    this.#handlers.push(handlers);
    return this;
  }

  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  /** True once the first full list is in the store (and stays true across relists). */
  hasSynced(): boolean {
    return this.#synced;
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#store.get(storeKey(namespace, name));
  }

  list(namespace?: string): T[] {
    const all = [...this.#store.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? "") === namespace);
  }

  stats(): Readonly<InformerStats> {
    return { ...this.#stats };
  }

  async #run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
          failures = 0;
        }
        const outcome = await this.#watch();
        if (outcome === "expired") {
          this.#stats.expired++;
          needList = true;
          this.#o.log?.info({ path: this.#o.path }, "watch resourceVersion expired (410): relisting");
          continue;
        }
        // A watch that ended cleanly after doing its job resets the backoff; one that ended at once counts as a failure.
        if (outcome === "productive") {
          failures = 0;
          continue;
        }
        throw new Error("watch closed before delivering anything");
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        if (error instanceof KubeApiError && error.statusCode === 410) {
          this.#stats.expired++;
          needList = true;
          continue;
        }
        failures++;
        this.#stats.failures++;
        this.#stats.lastError = error instanceof Error ? error.message : String(error);
        const delay = this.#backoff(failures);
        this.#o.log?.warn({ path: this.#o.path, err: this.#stats.lastError, retryInMs: delay }, "informer list/watch failed: restarting");
        await sleep(delay, this.#stop.signal);
      }
    }
  }

  #backoff(failures: number): number {
    const ceiling = Math.min(this.#o.maxBackoffMs, this.#o.initialBackoffMs * 2 ** Math.min(failures - 1, 20));
    return Math.floor(ceiling / 2) + randomInt(Math.floor(ceiling / 2) + 1);
  }

  #query(): Record<string, string | undefined> {
    return { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector };
  }

  async #list(): Promise<void> {
    this.#stats.lists++;
    const items: T[] = [];
    let continueToken: string | undefined;
    let answer: ListAnswer<T>;
    do {
      const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.requestTimeoutMs)]);
      answer = await kubeJson<ListAnswer<T>>(this.#o.kc, {
        path: this.#o.path,
        query: { ...this.#query(), limit: this.#o.pageSize, continue: continueToken },
        signal,
      });
      // List items carry no kind for built-in types; give every stored object the same shape as watched ones.
      const kind = answer.kind?.replace(/List$/, "");
      for (const item of answer.items) items.push({ ...item, ...(kind ? { kind } : {}), ...(answer.apiVersion ? { apiVersion: answer.apiVersion } : {}) });
      continueToken = answer.metadata.continue || undefined;
    } while (continueToken !== undefined);
    this.#replace(items);
    this.#resourceVersion = answer.metadata.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
  }

  /** Makes the store equal to a full list, emitting only the differences. */
  #replace(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(storeKey(item.metadata.namespace, item.metadata.name));
      this.#upsert(item);
    }
    for (const [key, old] of this.#store) if (!seen.has(key)) this.#remove(old);
  }

  #upsert(object: T): void {
    const key = storeKey(object.metadata.namespace, object.metadata.name);
    const old = this.#store.get(key);
    if (old !== undefined && old.metadata.resourceVersion === object.metadata.resourceVersion) return; // seen already
    this.#store.set(key, object);
    for (const h of this.#handlers) this.#call(() => (old === undefined ? h.add?.(object) : h.update?.(object, old)));
  }

  #remove(object: T): void {
    const key = storeKey(object.metadata.namespace, object.metadata.name);
    if (!this.#store.delete(key)) return;
    for (const h of this.#handlers) this.#call(() => h.delete?.(object));
  }

  #call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.#o.log?.warn({ path: this.#o.path, err: (error as Error).message }, "informer handler threw");
    }
  }

  /** One watch: "expired" on 410, "productive" when it ended cleanly after delivering something or lasting a while, "empty" otherwise. */
  async #watch(): Promise<"expired" | "productive" | "empty"> {
    this.#stats.watches++;
    const watchdog = new AbortController();
    const signal = AbortSignal.any([this.#stop.signal, watchdog.signal]);
    const timeoutSeconds = this.#o.watchTimeoutSeconds + randomInt(Math.floor(this.#o.watchTimeoutSeconds / 2) + 1);
    let lastActivity = performance.now();
    const timer = setInterval(() => {
      if (performance.now() - lastActivity > this.#o.idleTimeoutMs) watchdog.abort(new WatchdogTimeout("watch silent"));
    }, Math.min(1000, Math.max(50, this.#o.idleTimeoutMs / 4)));
    timer.unref();
    const connectTimer = setTimeout(() => watchdog.abort(new WatchdogTimeout("no watch response")), this.#o.requestTimeoutMs);
    const startedAt = performance.now();
    let delivered = false;
    let close = (): void => undefined;
    try {
      const answer = await kubeFetch(this.#o.kc, {
        path: this.#o.path,
        query: { ...this.#query(), watch: true, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        signal,
      });
      close = answer.close;
      const response = answer.response;
      clearTimeout(connectTimer);
      if (response.status !== 200) throw apiError(response.status, await response.text());
      if (response.body === null) return "empty";
      lastActivity = performance.now();
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of response.body) {
        lastActivity = performance.now();
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === "") continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (this.#apply(event) === "expired") return "expired";
          delivered = true;
        }
      }
      return delivered || performance.now() - startedAt >= 1000 ? "productive" : "empty";
    } catch (error) {
      if (watchdog.signal.aborted && !this.#stop.signal.aborted) {
        this.#stats.watchdogRestarts++;
        throw watchdog.signal.reason as Error;
      }
      throw error;
    } finally {
      clearInterval(timer);
      clearTimeout(connectTimer);
      watchdog.abort();
      close(); // the connection goes with the watch, whatever ended it
    }
  }

  #apply(event: WatchEvent<T>): "expired" | "ok" {
    const object = event.object;
    switch (event.type) {
      case "ADDED":
      case "MODIFIED":
        this.#upsert(object);
        break;
      case "DELETED":
        this.#remove(object);
        break;
      case "BOOKMARK":
        break;
      case "ERROR":
        if (object.code === 410) return "expired";
        throw apiError(object.code ?? 500, JSON.stringify(object));
      default:
        throw new Error(`unknown watch event type ${String((event as { type: unknown }).type)}`);
    }
    if (object.metadata?.resourceVersion) this.#resourceVersion = object.metadata.resourceVersion;
    return "ok";
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
