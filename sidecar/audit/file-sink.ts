// The interim audit writer: an append-only NDJSON file. Records are written and fsynced in small
// batches (group commit), and a call is forwarded only after its record's batch is on disk.
import { open, type FileHandle } from "node:fs/promises";

export interface AuditSink {
  /** Resolves once the record is durable; rejects if it could not be made durable. */
  append(record: object): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FileAuditSink implements AuditSink {
  readonly #file: FileHandle;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  private constructor(file: FileHandle, maxBatch: number) {
    this.#file = file;
    this.#maxBatch = maxBatch;
  }

  static async open(path: string, maxBatch = 256): Promise<FileAuditSink> {
    return new FileAuditSink(await open(path, "a", 0o600), maxBatch);
  }

  append(record: object): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("audit log is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ line: `${JSON.stringify(record)}\n`, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r)); // let the records of this turn join the batch
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          await this.#file.write(batch.map((p) => p.line).join(""));
          await this.#file.datasync();
          for (const p of batch) p.resolve();
        } catch (error) {
          const failure = new Error(`audit write failed: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
          for (const p of batch) p.reject(failure);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#file.close();
  }
}
