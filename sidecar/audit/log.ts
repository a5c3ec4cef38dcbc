// The audit log a sidecar writes: events are chained into its stream through the spool (durable
// before the call goes on), checkpoints of the stream's head are signed periodically and on close,
// and argument values are replaced by a keyed digest unless the tenant stores them.
import { createHmac } from "node:crypto";
import { readFileSync, truncateSync } from "node:fs";
import { canonicalize } from "../../wire/jcs.ts";
import { signCheckpoint, type AuditCheckpoint, type AuditEvent, type AuditKeys, type AuditRecord } from "../../wire/audit/index.ts";
import type { AuditSpool } from "./spool.ts";

export interface AuditLogOptions {
  spool: AuditSpool;
  keys: AuditKeys;
  /** Sign a checkpoint after this many records... */
  checkpointEvery: number;
  /** ...or this long after the last one, whichever comes first (if anything was written). */
  checkpointIntervalMs: number;
  storeArgumentValues: boolean;
  now?: () => Date;
  /** Longest an outcome record waits for a decision record to share its write (default 20 ms). */
  outcomeDelayMs?: number;
}

interface Deferred {
  event: AuditEvent;
  resolve: (record: AuditRecord) => void;
  reject: (error: Error) => void;
}

export class AuditLog {
  readonly #o: AuditLogOptions;
  readonly #now: () => Date;
  /** Highest seq signed (its checkpoint may still be on its way to disk); -1 when none. */
  #signedSeq: number;
  #timer: NodeJS.Timeout;
  #listeners: Array<(checkpoint: AuditCheckpoint) => void> = [];
  #errorListeners: Array<(error: Error) => void> = [];
  #outcomes: Deferred[] = [];
  #outcomeTimer: NodeJS.Timeout | undefined;

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#signedSeq = lastSignedSeq(options.spool.checkpoints.path);
    options.spool.onDurable((head) => {
      if (head.seq - Math.max(this.#signedSeq, 0) >= options.checkpointEvery) this.#background();
    });
    this.#timer = setInterval(() => this.#background(), options.checkpointIntervalMs);
    this.#timer.unref();
  }

  get stream(): string {
    return this.#o.spool.stream;
  }

  /**
   * Resolves once the record is durable. A decision record is queued for the spool's next write at
   * once (its call waits on it); an outcome record, which no call waits on, joins the next decision
   * record's write, or is written on its own after `outcomeDelayMs`: one write (and its O_DSYNC
   * round trip) per call instead of two at moderate rates.
   */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (event.kind === "outcome") return this.#defer(event);
    this.#releaseOutcomes();
    return this.#o.spool.append(event);
  }

  #defer(event: AuditEvent): Promise<AuditRecord> {
    return new Promise((resolve, reject) => {
      this.#outcomes.push({ event, resolve, reject });
      this.#outcomeTimer ??= setTimeout(() => this.#releaseOutcomes(), this.#o.outcomeDelayMs ?? 20);
    });
  }

  /** Hands the waiting outcome records to the spool, in the order they came. */
  #releaseOutcomes(): void {
    clearTimeout(this.#outcomeTimer);
    this.#outcomeTimer = undefined;
    const outcomes = this.#outcomes;
    this.#outcomes = [];
    for (const o of outcomes) this.#o.spool.append(o.event).then(o.resolve, o.reject);
  }

  /** Keyed digest of a call's arguments: equal arguments correlate, values cannot be guessed offline. */
  argumentsSummary(args: Record<string, unknown>): { names: string[]; sha256: string | null; values: Record<string, unknown> | null } {
    let digest: string | null;
    try {
      digest = createHmac("sha256", this.#o.keys.chainKey).update("arguments\n").update(canonicalize(args)).digest("hex");
    } catch {
      digest = null; // not canonicalisable (it was parsed from JSON, so this does not happen in practice)
    }
    return { names: Object.keys(args).sort(), sha256: digest, values: this.#o.storeArgumentValues ? args : null };
  }

  /** Told each checkpoint once it is durable in checkpoints.ndjson. */
  onCheckpoint(listener: (checkpoint: AuditCheckpoint) => void): void {
    this.#listeners.push(listener);
  }

  /** Told when a checkpoint triggered by the log itself could not be written (it is retried at the next trigger). */
  onCheckpointError(listener: (error: Error) => void): void {
    this.#errorListeners.push(listener);
  }

  /**
   * Signs the current head (if it moved) and appends the checkpoint to checkpoints.ndjson; resolves
   * once it is on disk. The write never blocks the event loop: checkpoints are on no call's
   * durability path (the records are, through the spool).
   */
  async checkpoint(): Promise<AuditCheckpoint | undefined> {
    const head = this.#o.spool.head;
    if (head.seq <= this.#signedSeq || head.seq === 0) return undefined;
    const checkpoint = signCheckpoint({ stream: this.stream, ...head }, this.#now(), this.#o.keys.keyId, this.#o.keys.signingKey);
    const previous = this.#signedSeq;
    this.#signedSeq = head.seq; // claimed now, so a trigger while this one is written does not sign it again
    try {
      await this.#o.spool.checkpoints.append(canonicalize(checkpoint));
    } catch (error) {
      if (this.#signedSeq === head.seq) this.#signedSeq = previous; // not on disk: the next trigger signs again
      throw error;
    }
    for (const listener of this.#listeners) listener(checkpoint);
    return checkpoint;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#releaseOutcomes();
    await this.#o.spool.close();
    try {
      await this.checkpoint();
    } finally {
      await this.#o.spool.checkpoints.close();
    }
  }

  #background(): void {
    this.checkpoint().catch((error: unknown) => {
      for (const listener of this.#errorListeners) listener(error as Error);
    });
  }
}

/**
 * The seq of the last checkpoint already in the file, so a restart does not sign the same head
 * again (the database keys checkpoints by stream and seq). A torn last line is cut off first.
 */
function lastSignedSeq(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw error;
  }
  const end = text.lastIndexOf("\n") + 1;
  if (end !== text.length) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
  const last = text.slice(0, end).split("\n").filter(Boolean).at(-1);
  return last === undefined ? -1 : (JSON.parse(last) as AuditCheckpoint).seq;
}
