// Standalone revocation state: a JSON revocation list on disk, re-read when it changes. Lookups fail
// (and so calls are refused) when the file cannot be read or has not been checked for too long.
import { readFileSync, statSync } from "node:fs";
import { stat, readFile } from "node:fs/promises";
import { RevocationSet, type RevocationLookup } from "../../wire/index.ts";

export interface RevocationStoreOptions {
  maxStalenessMs: number;
  pollMs: number;
  now?: () => number;
  onChange?: (event: { ok: boolean; size?: number; error?: string }) => void;
}

export class FileRevocationStore implements RevocationLookup {
  readonly #path: string;
  readonly #options: RevocationStoreOptions;
  readonly #now: () => number;
  #set = new RevocationSet([]);
  #stamp = "";
  #error: string | undefined = "not loaded yet";
  #checkedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(path: string, options: RevocationStoreOptions) {
    this.#path = path;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Loads once synchronously, then polls. A failed first load leaves the store refusing. */
  start(): this {
    try {
      const info = statSync(this.#path);
      this.#accept(readFileSync(this.#path, "utf8"), `${info.ino}:${info.size}:${info.mtimeMs}`);
    } catch (error) {
      this.#fail(error);
    }
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get size(): number {
    return this.#set.size;
  }

  /** Whether lookups would currently succeed (for /readyz). */
  healthy(): boolean {
    return this.#error === undefined && this.#now() - this.#checkedAt <= this.#options.maxStalenessMs;
  }

  isRevoked(ids: readonly string[]): boolean {
    if (this.#error !== undefined) throw new Error(this.#error);
    const age = this.#now() - this.#checkedAt;
    if (age > this.#options.maxStalenessMs) throw new Error(`revocation list last checked ${Math.round(age / 1000)}s ago`);
    return this.#set.isRevoked(ids);
  }

  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const info = await stat(this.#path);
      const stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (stamp === this.#stamp && this.#error === undefined) {
        this.#checkedAt = this.#now();
        return;
      }
      this.#accept(await readFile(this.#path, "utf8"), stamp);
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#polling = false;
    }
  }

  #accept(text: string, stamp: string): void {
    this.#set = RevocationSet.fromFile(JSON.parse(text));
    this.#stamp = stamp;
    this.#error = undefined;
    this.#checkedAt = this.#now();
    this.#options.onChange?.({ ok: true, size: this.#set.size });
  }

  #fail(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code;
    this.#error = `revocation list ${this.#path} unreadable: ${code ?? (error as Error).message}`;
    this.#options.onChange?.({ ok: false, error: this.#error });
  }
}
