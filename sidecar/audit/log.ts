// The audit log a sidecar writes: events are chained into its stream through the spool (durable
// before the call goes on), checkpoints of the stream's head are signed periodically and on close,
// and argument values are replaced by a keyed digest unless the tenant stores them.
import { createHmac } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
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
}

export class AuditLog {
  readonly #o: AuditLogOptions;
  readonly #now: () => Date;
  readonly #checkpointFile: string;
  #signedSeq: number;
  #timer: NodeJS.Timeout;
  #listeners: Array<(checkpoint: AuditCheckpoint) => void> = [];

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#checkpointFile = join(options.spool.dir, "checkpoints.ndjson");
    this.#signedSeq = lastSignedSeq(this.#checkpointFile);
    options.spool.onDurable((head) => {
      if (head.seq - Math.max(this.#signedSeq, 0) >= options.checkpointEvery) this.checkpoint();
    });
    this.#timer = setInterval(() => this.checkpoint(), options.checkpointIntervalMs);
    this.#timer.unref();
  }

  get stream(): string {
    return this.#o.spool.stream;
  }

  append(event: AuditEvent): Promise<AuditRecord> {
    return this.#o.spool.append(event);
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

  onCheckpoint(listener: (checkpoint: AuditCheckpoint) => void): void {
    this.#listeners.push(listener);
  }

  /** Signs the current head (if it moved) and appends the checkpoint to checkpoints.ndjson, fsynced. */
  checkpoint(): AuditCheckpoint | undefined {
    const head = this.#o.spool.head;
    if (head.seq === this.#signedSeq || head.seq === 0) return undefined;
    const checkpoint = signCheckpoint({ stream: this.stream, ...head }, this.#now(), this.#o.keys.keyId, this.#o.keys.signingKey);
    const fd = openSync(this.#checkpointFile, "a", 0o600);
    try {
      writeSync(fd, `${canonicalize(checkpoint)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#signedSeq = head.seq;
    for (const listener of this.#listeners) listener(checkpoint);
    return checkpoint;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#o.spool.close();
    this.checkpoint();
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
