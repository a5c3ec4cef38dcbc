// Drains the spool into the audit store: records in batches, then the signed checkpoints they
// cover, and only then acknowledges, so the spool deletes nothing the database has not committed.
// Wakes when the spool makes a batch durable (and on a timer); when the database fails it retries
// with capped exponential backoff and logs once per outage. On start it re-ships from the first
// segment still on disk: inserts are idempotent, so a crash between commit and acknowledgement
// costs a re-send, never a gap or a duplicate.
import { randomInt } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { Logger } from "pino";
import type { AuditSpool } from "./spool.ts";
import { AuditConflictError, AuditLineError, type AuditStore } from "./store/types.ts";
import { writeFileDurably } from "./durable-file.ts";

export interface ShipperObserver {
  /** Records and checkpoints newly stored by one shipment. */
  shipped?(records: number, checkpoints: number): void;
  failed?(error: Error): void;
  /** Whether the last attempt to use the database succeeded. */
  database?(up: boolean): void;
  /** Bytes the spool holds that the database has not acknowledged. */
  pending?(bytes: number): void;
}

/** What the shipper needs of a store: the database itself, or the controller's ingest API in a cluster. */
export type AuditSink = Pick<AuditStore, "kind" | "migrate" | "insertRecords" | "insertCheckpoints">;

export interface ShipperOptions {
  spool: AuditSpool;
  store: AuditSink;
  log: Logger;
  /** Records per insert (default 500). */
  batch?: number;
  /** Look at the spool at least this often even without a wake-up (default 1 s). */
  intervalMs?: number;
  /**
   * After a wake-up, wait this long for more records before shipping (default 100 ms). Under load
   * this caps shipments, and acknowledgements (two fsyncs on the main thread), at about ten a second.
   */
  lingerMs?: number;
  /**
   * With nothing to ship for this long, ask the database whether it is there (the schema check,
   * cheap and idempotent), so `database(up)` and its gauge follow an idle database too (default 15 s).
   */
  probeEveryMs?: number;
  retryInitialMs?: number;
  /** Backoff cap while the database is failing (default 30 s). */
  retryMaxMs?: number;
  /** How long close() keeps trying to ship what is left (default 3 s). */
  closeDeadlineMs?: number;
  /** start() waits this long for the first attempt (migrations), then lets it finish in the background (default 10 s). */
  startWaitMs?: number;
  /** Rewrite checkpoints.ndjson without its shipped lines once they take this many bytes (default 256 KiB). */
  compactCheckpointsAt?: number;
  observer?: ShipperObserver;
}

type Attempt = "more" | "idle" | "failed";
type FailureKind = "database" | "rejected" | "spool";

export class AuditShipper {
  readonly #spool: AuditSpool;
  readonly #store: AuditSink;
  readonly #log: Logger;
  readonly #batch: number;
  readonly #intervalMs: number;
  readonly #lingerMs: number;
  readonly #probeEveryMs: number;
  /** When the database last answered (performance.now()). */
  #lastAnswer = 0;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #closeDeadlineMs: number;
  readonly #observer: ShipperObserver;
  readonly #checkpointFile: string;
  readonly #compactAt: number;
  readonly #startWaitMs: number;
  #migrated = false;
  /** Highest seq this process has stored; starts at 0 so the first pass re-ships the first segment. */
  #cursor = 0;
  #acked: number;
  #checkpointOffset = 0;
  #lastCheckpointLine: string | undefined;
  #outage: { kind: FailureKind; since: number; failures: number } | undefined;
  #dirty = false;
  #stopping = false;
  /** After close() returns, a shipment still running against a closing store is not worth a log line. */
  #closed = false;
  #sleeper: { timer: NodeJS.Timeout; resolve: () => void; wakeable: boolean } | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: ShipperOptions) {
    this.#spool = options.spool;
    this.#store = options.store;
    this.#log = options.log;
    this.#batch = options.batch ?? 500;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#lingerMs = options.lingerMs ?? 100;
    this.#probeEveryMs = options.probeEveryMs ?? 15_000;
    this.#retryInitialMs = options.retryInitialMs ?? 100;
    this.#retryMaxMs = Math.max(options.retryMaxMs ?? 30_000, this.#retryInitialMs);
    this.#closeDeadlineMs = options.closeDeadlineMs ?? 3000;
    this.#observer = options.observer ?? {};
    this.#checkpointFile = options.spool.checkpoints.path;
    this.#compactAt = options.compactCheckpointsAt ?? 256 * 1024;
    this.#startWaitMs = options.startWaitMs ?? 10_000;
    this.#acked = options.spool.shipped().seq;
    options.spool.onDurable(() => {
      this.#observer.pending?.(this.#spool.pendingBytes());
      this.wake();
    });
  }

  /**
   * Makes the first attempt (migrations, then whatever the spool holds), waiting for it at most
   * startWaitMs so a database that hangs cannot hold up start-up, and keeps shipping in the background.
   */
  async start(): Promise<void> {
    if (this.#loop !== undefined) return;
    this.#observer.pending?.(this.#spool.pendingBytes());
    const first = this.#attempt();
    this.#loop = first.then((state) => this.#run(state));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise((resolve) => (timer = setTimeout(resolve, this.#startWaitMs)))]);
    clearTimeout(timer);
  }

  /** Something new is durable (a batch of records or a checkpoint): ship it soon. */
  wake(): void {
    this.#dirty = true;
    if (this.#sleeper?.wakeable) this.#interrupt();
  }

  /** Ships until the spool is empty or a shipment fails (tests and benchmarks; the loop does this itself). */
  async drain(): Promise<void> {
    for (;;) {
      const more = await this.#shipOnce();
      this.#recovered();
      if (!more) return;
    }
  }

  /**
   * Stops the loop and tries, for at most closeDeadlineMs, to ship what is left (a database that is
   * down fails fast; one that hangs is given up on). The store is the caller's to close.
   */
  async close(): Promise<void> {
    this.#stopping = true;
    this.#interrupt();
    const final = (async () => {
      await this.#loop;
      const end = Date.now() + this.#closeDeadlineMs;
      while (Date.now() < end && (await this.#attempt()) === "more");
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), this.#closeDeadlineMs)));
    const result = await Promise.race([final.then(() => "done" as const), timeout]);
    clearTimeout(timer);
    this.#closed = true;
    const left = this.#spool.pendingBytes();
    if (result === "timeout" || left > 0) {
      this.#log.warn({ pendingBytes: left }, "audit records left in the spool at shutdown: they ship at the next start");
    }
  }

  async #run(first: Attempt): Promise<void> {
    let state = first;
    let delay = this.#retryInitialMs;
    while (!this.#stopping) {
      if (state === "failed") {
        await this.#sleep(delay / 2 + randomInt(Math.max(1, Math.ceil(delay / 2))), false);
        delay = Math.min(delay * 2, this.#retryMaxMs);
      } else {
        delay = this.#retryInitialMs;
        if (state === "idle") {
          await this.#sleep(this.#intervalMs, true);
          await this.#sleep(this.#lingerMs, false);
        }
      }
      if (this.#stopping) return;
      state = await this.#attempt();
    }
  }

  async #attempt(): Promise<Attempt> {
    this.#dirty = false;
    try {
      const more = await this.#shipOnce();
      this.#recovered();
      return more ? "more" : "idle";
    } catch (error) {
      this.#failed(error as Error);
      return "failed";
    }
  }

  /** One batch of records and the checkpoints they cover; true when the spool has more. */
  async #shipOnce(): Promise<boolean> {
    if (!this.#migrated) {
      const report = await this.#database(() => this.#store.migrate());
      this.#migrated = true;
      this.#log.info({ store: this.#store.kind, applied: report.applied, version: report.version }, "audit database schema is current");
    }
    const lines = this.#spool.readAfter(this.#cursor, this.#batch);
    let records = 0;
    if (lines.length > 0) {
      records = await this.#database(() => this.#store.insertRecords(lines));
      const last = JSON.parse(lines.at(-1) as string) as { seq: number; hash: string };
      this.#cursor = last.seq;
      if (last.seq > this.#acked) {
        this.#spool.acknowledge({ seq: last.seq, hash: last.hash });
        this.#acked = last.seq;
      }
      this.#observer.pending?.(this.#spool.pendingBytes());
    }
    const checkpoints = await this.#shipCheckpoints(Math.max(this.#cursor, this.#acked));
    if (records > 0 || checkpoints > 0) this.#observer.shipped?.(records, checkpoints);
    if (performance.now() - this.#lastAnswer >= this.#probeEveryMs) await this.#database(() => this.#store.migrate());
    return lines.length === this.#batch;
  }

  /** Checkpoints from checkpoints.ndjson up to `upTo` (never one ahead of the records it covers). */
  async #shipCheckpoints(upTo: number): Promise<number> {
    const tail = readTail(this.#checkpointFile, this.#checkpointOffset);
    if (tail === undefined) return 0;
    const { buffer, from } = tail;
    this.#checkpointOffset = from;
    const lines: string[] = [];
    let consumed = 0;
    for (;;) {
      const end = buffer.indexOf(10, consumed);
      if (end < 0) break; // a line still being written, or torn: the next pass (or restart) sees it whole
      const line = buffer.toString("utf8", consumed, end);
      if ((JSON.parse(line) as { seq: number }).seq > upTo) break;
      lines.push(line);
      consumed = end + 1;
    }
    if (lines.length === 0) return 0;
    const inserted = await this.#database(() => this.#store.insertCheckpoints(lines));
    this.#checkpointOffset += consumed;
    this.#lastCheckpointLine = lines.at(-1);
    if (this.#checkpointOffset >= this.#compactAt) this.#compactCheckpoints();
    return inserted;
  }

  /**
   * Rewrites checkpoints.ndjson as the last shipped checkpoint plus what is not shipped yet. The
   * last one stays so a restarted AuditLog knows which head it already signed. Only between
   * appends, and synchronous, so no checkpoint can be appended between the read and the rename.
   */
  #compactCheckpoints(): void {
    this.#spool.checkpoints.rewrite(() => {
      const text = readFileSync(this.#checkpointFile);
      const keep = Buffer.concat([Buffer.from(`${this.#lastCheckpointLine ?? ""}\n`), text.subarray(this.#checkpointOffset)]);
      writeFileDurably(this.#checkpointFile, keep);
      this.#checkpointOffset = Buffer.byteLength(`${this.#lastCheckpointLine ?? ""}\n`);
    }); // skipped while a checkpoint is being appended: the next shipment compacts
  }

  /** Marks failures of a store call as database failures (the rest are the spool's). */
  async #database<T>(call: () => Promise<T>): Promise<T> {
    try {
      const answer = await call();
      this.#lastAnswer = performance.now();
      return answer;
    } catch (error) {
      throw new StoreFailure(error as Error);
    }
  }

  #recovered(): void {
    this.#observer.database?.(true);
    const outage = this.#outage;
    if (outage === undefined) return;
    this.#outage = undefined;
    this.#log.info({ kind: outage.kind, downMs: Date.now() - outage.since, failures: outage.failures, pendingBytes: this.#spool.pendingBytes() }, "audit shipping resumed");
  }

  #failed(error: Error): void {
    const cause = error instanceof StoreFailure ? error.failure : error;
    const kind: FailureKind = !(error instanceof StoreFailure) ? "spool" : cause instanceof AuditConflictError || cause instanceof AuditLineError ? "rejected" : "database";
    if (this.#closed) return;
    this.#observer.failed?.(cause);
    if (kind !== "spool") this.#observer.database?.(kind === "rejected");
    if (this.#outage?.kind === kind) {
      this.#outage.failures++;
      this.#log.debug({ kind, reason: cause.message }, "audit shipment failed again");
      return;
    }
    this.#outage = { kind, since: Date.now(), failures: 1 };
    const context = { kind, store: this.#store.kind, reason: cause.message, pendingBytes: this.#spool.pendingBytes() };
    if (kind === "database") this.#log.error(context, "audit database unavailable: records stay in the local spool and ship when it is back");
    else if (kind === "rejected") this.#log.error(context, "audit database refused a shipment: the records stay in the local spool until this is resolved");
    else this.#log.error(context, "audit spool could not be read or acknowledged: retrying");
  }

  #sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.#stopping || (wakeable && this.#dirty)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#interrupt(), ms);
      timer.unref();
      this.#sleeper = { timer, resolve, wakeable };
    });
  }

  #interrupt(): void {
    const sleeper = this.#sleeper;
    if (sleeper === undefined) return;
    this.#sleeper = undefined;
    clearTimeout(sleeper.timer);
    sleeper.resolve();
  }
}

class StoreFailure extends Error {
  readonly failure: Error;
  constructor(failure: Error) {
    super(failure.message);
    this.failure = failure;
  }
}

/** The file's bytes from `offset` (from 0 if it is shorter); undefined when it does not exist yet. */
function readTail(path: string, offset: number): { buffer: Buffer; from: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const from = offset <= size ? offset : 0;
    const buffer = Buffer.allocUnsafe(size - from);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, from + read);
      if (n === 0) break;
      read += n;
    }
    return { buffer: buffer.subarray(0, read), from };
  } finally {
    closeSync(fd);
  }
}
