// The local spool: an append-only, fsynced file of chained audit records that a call waits on
// before it is forwarded. Records are chained when they are written (in write order), so a failed
// write leaves no gap: the file is cut back to its last durable record and the head is unchanged.
// A shipper drains the spool into PostgreSQL and acknowledges what the database holds; fully
// acknowledged segment files are deleted, the last shipped head is kept in shipped.json.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KeyObject } from "node:crypto";
import { chainRecord, EMPTY_HEAD, type AuditEvent, type AuditRecord, type ChainHead } from "../../wire/audit/index.ts";

export interface SpoolOptions {
  dir: string;
  /** Stream name to use when the spool is new; an existing spool keeps its own. */
  stream: string;
  chainKey: KeyObject;
  maxBatch?: number;
  maxSegmentBytes?: number;
  /** Refuse new records (calls) once this many bytes wait to be shipped. */
  maxSpoolBytes?: number;
}

export class SpoolFullError extends Error {}

interface Pending {
  event: AuditEvent;
  resolve: (record: AuditRecord) => void;
  reject: (error: Error) => void;
}

const SEGMENT = /^seg-(\d{12})\.ndjson$/;
const segmentName = (firstSeq: number): string => `seg-${String(firstSeq).padStart(12, "0")}.ndjson`;

export class AuditSpool {
  readonly stream: string;
  readonly dir: string;
  readonly #chainKey: KeyObject;
  readonly #maxBatch: number;
  readonly #maxSegmentBytes: number;
  readonly #maxSpoolBytes: number;
  #head: ChainHead;
  #file: FileHandle | undefined;
  #fileName = "";
  #fileSize = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;
  #listeners: Array<(head: ChainHead) => void> = [];
  #pendingBytes = 0;

  private constructor(options: SpoolOptions, stream: string, head: ChainHead) {
    this.dir = options.dir;
    this.stream = stream;
    this.#chainKey = options.chainKey;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? 4 * 1024 * 1024;
    this.#maxSpoolBytes = options.maxSpoolBytes ?? 1024 * 1024 * 1024;
    this.#head = head;
  }

  /** Opens (or creates) a spool, discarding a torn last line, and resumes its stream where it stopped. */
  static open(options: SpoolOptions): AuditSpool {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const streamFile = join(options.dir, "stream.json");
    let stream: string;
    try {
      stream = (JSON.parse(readFileSync(streamFile, "utf8")) as { stream: string }).stream;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      stream = options.stream;
      writeAtomic(streamFile, JSON.stringify({ stream }));
    }
    const spool = new AuditSpool(options, stream, EMPTY_HEAD);
    spool.#head = spool.#recoverHead();
    spool.#pendingBytes = spool.#measure();
    return spool;
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Called after each durable batch with the new head (the shipper and checkpointer listen). */
  onDurable(listener: (head: ChainHead) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves with the chained record once it is on disk; rejects if it could not be made durable. */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new Error("audit spool is closed"));
    if (this.#pendingBytes > this.#maxSpoolBytes) {
      return Promise.reject(new SpoolFullError(`audit spool holds more than ${this.#maxSpoolBytes} bytes not yet shipped`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r)); // let this turn's records join the batch
    try {
      while (this.#queue.length > 0) await this.#writeBatch(this.#queue.splice(0, this.#maxBatch));
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    let head = this.#head;
    const records: AuditRecord[] = [];
    const lines: string[] = [];
    for (const p of batch) {
      const { record, line } = chainRecord(p.event, this.stream, head, this.#chainKey);
      records.push(record);
      lines.push(line);
      head = { seq: record.seq, hash: record.hash };
    }
    const text = `${lines.join("\n")}\n`;
    const durableSize = this.#fileSize;
    try {
      const file = await this.#segmentFor(this.#head.seq + 1);
      await file.write(text);
      await file.datasync();
      this.#fileSize += Buffer.byteLength(text);
      this.#pendingBytes += Buffer.byteLength(text);
    } catch (error) {
      // Cut back anything partly written so the file ends on the last durable record.
      try {
        if (this.#fileName !== "") truncateSync(join(this.dir, this.#fileName), durableSize);
      } catch {
        /* the next write will find out */
      }
      const failure = new Error(`audit spool write failed: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      for (const p of batch) p.reject(failure);
      return;
    }
    this.#head = head;
    batch.forEach((p, i) => p.resolve(records[i] as AuditRecord));
    for (const listener of this.#listeners) listener(head);
  }

  async #segmentFor(firstSeq: number): Promise<FileHandle> {
    if (this.#file !== undefined && this.#fileSize < this.#maxSegmentBytes) return this.#file;
    await this.#file?.close();
    this.#fileName = segmentName(firstSeq);
    this.#file = await open(join(this.dir, this.#fileName), "a", 0o600);
    this.#fileSize = (await this.#file.stat()).size;
    return this.#file;
  }

  /** Segment files in order, with the sequence number each starts at. */
  segments(): Array<{ name: string; firstSeq: number }> {
    return readdirSync(this.dir)
      .map((name) => ({ name, match: SEGMENT.exec(name) }))
      .filter((s): s is { name: string; match: RegExpExecArray } => s.match !== null)
      .map((s) => ({ name: s.name, firstSeq: Number(s.match[1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
  }

  /** Durable lines after `afterSeq`, at most `limit` of them, for the shipper. */
  readAfter(afterSeq: number, limit: number): string[] {
    const out: string[] = [];
    const segments = this.segments();
    for (const [i, segment] of segments.entries()) {
      const next = segments[i + 1];
      if (next !== undefined && next.firstSeq <= afterSeq + 1) continue;
      for (const line of readFileSync(join(this.dir, segment.name), "utf8").split("\n")) {
        if (line === "") continue;
        const seq = seqOf(line);
        if (seq > afterSeq && seq <= this.#head.seq) out.push(line);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /** The database holds everything up to `head`: delete segments entirely at or below it. */
  acknowledge(head: ChainHead): void {
    writeAtomic(join(this.dir, "shipped.json"), JSON.stringify(head));
    const segments = this.segments();
    for (const [i, segment] of segments.entries()) {
      const next = segments[i + 1];
      if (next === undefined || next.firstSeq - 1 > head.seq || segment.name === this.#fileName) continue;
      unlinkSync(join(this.dir, segment.name));
    }
    this.#pendingBytes = this.#measure();
  }

  shipped(): ChainHead {
    try {
      return JSON.parse(readFileSync(join(this.dir, "shipped.json"), "utf8")) as ChainHead;
    } catch {
      return EMPTY_HEAD;
    }
  }

  /** Bytes on disk not yet shipped (whole segments; the current one counts in full). */
  pendingBytes(): number {
    return this.#pendingBytes;
  }

  #measure(): number {
    let total = 0;
    for (const s of this.segments()) total += statSync(join(this.dir, s.name)).size;
    return total;
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#file?.close();
    this.#file = undefined;
  }

  #recoverHead(): ChainHead {
    const segments = this.segments();
    const last = segments.at(-1);
    if (last === undefined) return this.shipped();
    const path = join(this.dir, last.name);
    const text = readFileSync(path, "utf8");
    const end = text.lastIndexOf("\n") + 1;
    if (end !== Buffer.byteLength(text)) truncateSync(path, Buffer.byteLength(text.slice(0, end))); // a torn write was never acknowledged
    const lines = text.slice(0, end).split("\n").filter(Boolean);
    const tail = lines.at(-1);
    if (tail === undefined) return this.shipped();
    const record = JSON.parse(tail) as AuditRecord;
    return { seq: record.seq, hash: record.hash };
  }
}

function seqOf(line: string): number {
  return (JSON.parse(line) as { seq: number }).seq;
}

/** Write, fsync, rename, fsync the folder: the file is either the old one or the new one, durably. */
function writeAtomic(path: string, text: string): void {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
