// The local spool: an append-only, fsynced file of chained audit records that a call waits on
// before it is forwarded. Records are chained when they are written (in write order), so a failed
// write leaves no gap: the file is cut back to its last durable record and the head is unchanged.
// A shipper drains the spool into PostgreSQL and acknowledges what the database holds; fully
// acknowledged segment files are deleted, the last shipped head is kept in shipped.json.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { KeyObject } from "node:crypto";
import { chainRecord, EMPTY_HEAD, type AuditEvent, type AuditRecord, type ChainHead } from "../../wire/audit/index.ts";
import { CheckpointFile, writeAll } from "./checkpoint-file.ts";
import { writeFileDurably } from "./durable-file.ts";

/**
 * Segments are written with O_DSYNC: a write returns once its data (and the file size) are on
 * disk, as write + fdatasync would, in one thread-pool round trip instead of two.
 */
const SEGMENT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

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
  /** The signed checkpoints of this stream, kept beside its segments. */
  readonly checkpoints: CheckpointFile;
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
  /** Where the last readAfter stopped, so the shipper's sequential reads only read new bytes. */
  #cursor: { name: string; seq: number; offset: number } | undefined;

  private constructor(options: SpoolOptions, stream: string, head: ChainHead) {
    this.dir = options.dir;
    this.stream = stream;
    this.checkpoints = new CheckpointFile(options.dir);
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
      writeFileDurably(streamFile, JSON.stringify({ stream }));
    }
    const spool = new AuditSpool(options, stream, EMPTY_HEAD);
    spool.#head = spool.#recoverHead();
    spool.#pendingBytes = spool.#bytesAfter(spool.shipped().seq);
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

  async #writeBatch(input: Pending[]): Promise<void> {
    let batch = input;
    let head = this.#head;
    const records: AuditRecord[] = [];
    const lines: string[] = [];
    const chained: Pending[] = [];
    for (const p of batch) {
      let built;
      try {
        built = chainRecord(p.event, this.stream, head, this.#chainKey);
      } catch (error) {
        p.reject(new Error(`audit record cannot be written: ${(error as Error).message}`)); // never leave a call waiting
        continue;
      }
      chained.push(p);
      records.push(built.record);
      lines.push(built.line);
      head = { seq: built.record.seq, hash: built.record.hash };
    }
    batch = chained;
    if (batch.length === 0) return;
    const bytes = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    let durable: { name: string; size: number } | undefined;
    try {
      const file = await this.#segmentFor(this.#head.seq + 1);
      durable = { name: this.#fileName, size: this.#fileSize };
      // Durable when the write returns (O_DSYNC).
      await writeAll(file, bytes);
      this.#fileSize += bytes.length;
      this.#pendingBytes += bytes.length;
    } catch (error) {
      // Cut back anything partly written so the file ends on the last durable record.
      try {
        if (durable !== undefined) truncateSync(join(this.dir, durable.name), durable.size);
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
    this.#file = undefined;
    this.#fileName = segmentName(firstSeq);
    const file = await open(join(this.dir, this.#fileName), SEGMENT_FLAGS, 0o600);
    try {
      this.#fileSize = (await file.stat()).size;
      if (this.#fileSize === 0) await syncDirectory(this.dir); // the new segment's name must survive a crash too
    } catch (error) {
      await file.close();
      throw error;
    }
    this.#file = file;
    return file;
  }

  /** Segment files in order, with the sequence number each starts at. */
  segments(): Array<{ name: string; firstSeq: number }> {
    return readdirSync(this.dir)
      .map((name) => ({ name, match: SEGMENT.exec(name) }))
      .filter((s): s is { name: string; match: RegExpExecArray } => s.match !== null)
      .map((s) => ({ name: s.name, firstSeq: Number(s.match[1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
  }

  /**
   * Durable lines after `afterSeq`, at most `limit` of them, for the shipper. A segment holds
   * consecutive sequence numbers from the one in its name, so lines are found by position; reading
   * on from where the previous call stopped reads only the bytes written since.
   */
  readAfter(afterSeq: number, limit: number): string[] {
    const out: string[] = [];
    let seq = afterSeq;
    const segments = this.segments();
    for (const [i, segment] of segments.entries()) {
      const next = segments[i + 1];
      const last = next === undefined ? this.#head.seq : next.firstSeq - 1;
      if (last <= seq) continue;
      const cursor = this.#cursor;
      const resume = cursor !== undefined && cursor.name === segment.name && cursor.seq === seq;
      const skip = resume ? 0 : Math.max(0, seq - segment.firstSeq + 1);
      const buffer = readFrom(join(this.dir, segment.name), resume ? cursor.offset : 0);
      let start = 0;
      for (let k = 0; k < skip && start < buffer.length; k++) start = buffer.indexOf(10, start) + 1 || buffer.length;
      let lineSeq = Math.max(seq, segment.firstSeq - 1);
      while (out.length < limit && lineSeq < last) {
        const end = buffer.indexOf(10, start);
        if (end < 0) break;
        out.push(buffer.toString("utf8", start, end));
        start = end + 1;
        lineSeq++;
      }
      seq = lineSeq;
      this.#cursor = { name: segment.name, seq, offset: (resume ? cursor.offset : 0) + start };
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The database holds everything up to `head`: delete segments entirely at or below it. */
  acknowledge(head: ChainHead): void {
    writeFileDurably(join(this.dir, "shipped.json"), JSON.stringify(head));
    const segments = this.segments();
    for (const [i, segment] of segments.entries()) {
      const next = segments[i + 1];
      if (next === undefined || next.firstSeq - 1 > head.seq || segment.name === this.#fileName) continue;
      unlinkSync(join(this.dir, segment.name));
    }
    this.#pendingBytes = this.#bytesAfter(head.seq);
  }

  shipped(): ChainHead {
    try {
      return JSON.parse(readFileSync(join(this.dir, "shipped.json"), "utf8")) as ChainHead;
    } catch {
      return EMPTY_HEAD;
    }
  }

  /** Bytes of durable records not yet acknowledged by the database. */
  pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Bytes of the lines after `seq` (found by position; the read cursor saves rereading a segment). */
  #bytesAfter(seq: number): number {
    let total = 0;
    const segments = this.segments();
    for (const [i, segment] of segments.entries()) {
      const path = join(this.dir, segment.name);
      const size = segment.name === this.#fileName ? this.#fileSize : statSync(path).size;
      const next = segments[i + 1];
      const last = next === undefined ? this.#head.seq : next.firstSeq - 1;
      if (last <= seq) continue;
      if (segment.firstSeq > seq) {
        total += size;
        continue;
      }
      const cursor = this.#cursor;
      if (cursor !== undefined && cursor.name === segment.name && cursor.seq === seq) {
        total += Math.max(0, size - cursor.offset);
        continue;
      }
      const buffer = readFrom(path, 0);
      let start = 0;
      for (let k = segment.firstSeq; k <= seq && start < buffer.length; k++) start = buffer.indexOf(10, start) + 1 || buffer.length;
      total += Math.max(0, size - start);
    }
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

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function readFrom(path: string, offset: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const length = Math.max(0, fstatSync(fd).size - offset);
    const buffer = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, offset + read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
