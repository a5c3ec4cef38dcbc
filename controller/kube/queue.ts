// A deduplicating, level-based work queue (controller-runtime's model): reconcile a key, never an event.
// A key added while queued is not queued twice; a key added while it is being processed runs again
// afterwards, never concurrently with itself. Transient errors retry with per-key exponential backoff;
// TerminalError (an invalid spec: the reconciler writes a status condition) is not retried.

/** The longest delay a Node timer holds (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** An error that retrying cannot fix; the queue drops the key until something adds it again. */
export class TerminalError extends Error {
  readonly terminal = true;
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const isTerminal = (error: unknown): boolean => error instanceof TerminalError;

/** "Kind/namespace/name"; cluster-scoped objects have an empty namespace ("Tenant//acme"). */
export const objectKey = (kind: string, namespace: string | undefined, name: string): string => `${kind}/${namespace ?? ""}/${name}`;

export function parseKey(key: string): { kind: string; namespace: string; name: string } {
  const [kind = "", namespace = "", ...rest] = key.split("/");
  return { kind, namespace, name: rest.join("/") };
}

export interface QueueResult {
  key: string;
  outcome: "ok" | "retry" | "terminal";
  durationMs: number;
  /** Consecutive failures of this key so far (0 after a success or a terminal error). */
  failures: number;
  retryInMs?: number;
  error?: unknown;
}

export interface WorkQueueOptions {
  process(key: string): Promise<void>;
  /** Keys processed at once (each key at most once at a time). Default 2. */
  concurrency?: number;
  /** First retry delay; doubles per consecutive failure of the key. Default 1000 ms. */
  baseDelayMs?: number;
  /** Retry delay ceiling. Default 300000 ms (5 min). */
  maxDelayMs?: number;
  onResult?(result: QueueResult): void;
}

export class WorkQueue {
  readonly #options: Required<Omit<WorkQueueOptions, "onResult">> & Pick<WorkQueueOptions, "onResult">;
  /** Insertion-ordered: a Set keeps FIFO order and deduplicates. */
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  /** Added again while processing: requeued when that run ends. */
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: WorkQueueOptions) {
    const concurrency = options.concurrency ?? 2;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("concurrency must be a positive integer");
    this.#options = { concurrency, baseDelayMs: options.baseDelayMs ?? 1000, maxDelayMs: options.maxDelayMs ?? 300_000, ...options };
  }

  /** Queues a key now (cancelling a pending retry for it: fresh work makes the backoff moot). */
  add(key: string): void {
    if (this.#stopped) return;
    const timer = this.#retryTimers.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#retryTimers.delete(key);
    }
    if (this.#processing.has(key)) this.#dirty.add(key);
    else this.#queued.add(key);
    this.#pump();
  }

  /**
   * Queues a key after a delay (e.g. a token's rotation time); an earlier add() wins. Delays beyond
   * what a Node timer holds (about 24.8 days; Node would fire at once) wake early: the reconcile
   * then asks for the rest.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (this.#retryTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(key);
      this.add(key);
    }, Math.min(delayMs, MAX_TIMER_MS));
    timer.unref();
    this.#retryTimers.set(key, timer);
  }

  /** Keys waiting (not counting those being processed or waiting for a retry). */
  get length(): number {
    return this.#queued.size;
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or processing (pending retries do not count). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops accepting and starting work, drops queued keys and retries, and resolves when in-flight runs end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#queued.clear();
    this.#dirty.clear();
    await this.idle();
  }

  #isIdle(): boolean {
    return this.#queued.size === 0 && this.#processing.size === 0;
  }

  #pump(): void {
    while (!this.#stopped && this.#processing.size < this.#options.concurrency) {
      const next = this.#queued.values().next();
      if (next.done === true) break;
      this.#queued.delete(next.value);
      this.#processing.add(next.value);
      void this.#run(next.value);
    }
    if (this.#isIdle()) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #run(key: string): Promise<void> {
    const started = performance.now();
    let result: QueueResult;
    try {
      await this.#options.process(key);
      this.#failures.delete(key);
      result = { key, outcome: "ok", durationMs: performance.now() - started, failures: 0 };
    } catch (error) {
      if (isTerminal(error)) {
        this.#failures.delete(key);
        result = { key, outcome: "terminal", durationMs: performance.now() - started, failures: 0, error };
      } else {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        const retryInMs = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** Math.min(failures - 1, 30));
        result = { key, outcome: "retry", durationMs: performance.now() - started, failures, retryInMs, error };
      }
    }
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.#queued.add(key);
    else if (result.retryInMs !== undefined) this.addAfter(key, result.retryInMs);
    try {
      this.#options.onResult?.(result);
    } catch {
      /* an observer must not break the queue */
    }
    this.#pump();
  }
}
