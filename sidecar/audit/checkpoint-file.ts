// checkpoints.ndjson, appended off the event loop: one line per signed checkpoint, written through
// a handle opened with O_DSYNC (the write returns once the line is on disk: one thread-pool round
// trip, no separate fsync). The shipper rewrites the file when it compacts it; it may only do so
// between appends, and the next append then opens the new file.
import { constants, write } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

const APPEND_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

export class CheckpointFile {
  readonly path: string;
  #file: { handle: FileHandle; size: number } | undefined;
  #tail: Promise<void> = Promise.resolve();
  #inFlight = 0;

  constructor(dir: string) {
    this.path = join(dir, "checkpoints.ndjson");
  }

  /** Resolves once the line is durable; a failed append leaves the file as it was. Appends run in order. */
  append(line: string): Promise<void> {
    this.#inFlight++;
    const done = this.#tail.then(() => this.#write(Buffer.from(`${line}\n`, "utf8")));
    this.#tail = done.catch(() => undefined);
    return done.finally(() => this.#inFlight--);
  }

  /**
   * Runs a synchronous rewrite of the file (compaction) unless an append is in flight, and returns
   * whether it ran. The handle on the old file is dropped, so later appends land in the new one.
   */
  rewrite(replace: () => void): boolean {
    if (this.#inFlight > 0) return false;
    replace();
    this.#drop();
    return true;
  }

  async close(): Promise<void> {
    await this.#tail;
    const file = this.#file;
    this.#file = undefined;
    await file?.handle.close();
  }

  async #write(bytes: Buffer): Promise<void> {
    this.#file ??= await openAppend(this.path);
    const file = this.#file;
    try {
      await writeAll(file.handle, bytes);
      file.size += bytes.length;
    } catch (error) {
      // Cut a partly written line off, so the next checkpoint starts on a line of its own.
      await file.handle.truncate(file.size).catch(() => undefined);
      this.#drop();
      throw error;
    }
  }

  #drop(): void {
    const file = this.#file;
    this.#file = undefined;
    void file?.handle.close().catch(() => undefined);
  }
}

/** Writes every byte: a short write goes on from where it stopped. */
/**
 * Writes all of `bytes` at the file's end. Through the fd's callback API: on the spool's path (one
 * write per batch of calls) that costs the event loop about a quarter less than FileHandle#write.
 */
export async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const bytesWritten = await writeAt(handle.fd, bytes, at);
    if (bytesWritten <= 0) throw new Error("write made no progress");
    at += bytesWritten;
  }
}

const writeAt = (fd: number, bytes: Buffer, at: number): Promise<number> =>
  new Promise((resolve, reject) => {
    write(fd, bytes, at, bytes.length - at, null, (error, written) => (error ? reject(error) : resolve(written)));
  });

async function openAppend(path: string): Promise<{ handle: FileHandle; size: number }> {
  const handle = await open(path, APPEND_DSYNC, 0o600);
  try {
    return { handle, size: (await handle.stat()).size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
