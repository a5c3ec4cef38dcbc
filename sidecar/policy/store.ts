// Holds the active policy engine and replaces it when the bundle on disk changes. A request reads
// `current()` once and keeps that engine to the end, so a reload never splits a decision between
// two policies; the new engine is published with one assignment, only after it loaded and passed
// the smoke evaluation. A bad bundle is reported and the previous engine keeps enforcing.
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { loadPolicyBundle, PolicyLoadError, type PolicyEngine, type PolicyLoadErrorCode } from "./engine.ts";
import { smokeTest, SMOKE_INPUT } from "./smoke.ts";
import type { PolicyInput } from "./types.ts";

export interface PolicyStoreOptions {
  /** Path of the compiled policy.wasm. */
  bundle: string;
  /** Path of the bundle's data.json, for policies that read `data`. */
  data?: string;
  /** Called once per load or rejection (not for a change that leaves the bytes identical). */
  onReload?: (event: PolicyReloadEvent) => void;
  /** Period of the stat fallback for changes fs.watch misses (network file systems, symlink swaps). */
  pollMs?: number;
  /** false: rely on the stat fallback alone. */
  watch?: boolean;
  /** Quiet time after a file event before reading, so one write is read once and whole. */
  debounceMs?: number;
  smokeInput?: PolicyInput;
  maxMemoryPages?: number;
}

export type PolicyReloadEvent =
  | { ok: true; version: string; dataVersion: string | null; previousVersion: string | undefined }
  | { ok: false; code: PolicyLoadErrorCode; error: string; keptVersion: string | undefined };

export type PolicyReloadResult = PolicyReloadEvent | { ok: true; unchanged: true; version: string | undefined };

export class PolicyStore {
  readonly #options: PolicyStoreOptions;
  #engine: PolicyEngine | undefined;
  #loadedFingerprint = "";
  #rejected: { fingerprint: string; event: PolicyReloadEvent } | undefined;
  #statSeen = "";
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<PolicyReloadResult> | undefined;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #polling = false;
  #debounce: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: PolicyStoreOptions) {
    this.#options = options;
  }

  /**
   * Loads the bundle and starts watching it. Resolves even when that first load fails (reported
   * through onReload): `current()` is then undefined, every call is denied, and the store keeps
   * watching for a good bundle, so a sidecar can start before its policy arrives.
   */
  static async open(options: PolicyStoreOptions): Promise<PolicyStore> {
    const pollMs = options.pollMs ?? 2000;
    if (!Number.isInteger(pollMs) || pollMs < 10) throw new RangeError("pollMs must be an integer >= 10");
    const store = new PolicyStore(options);
    await store.reload();
    store.#startWatching(pollMs);
    return store;
  }

  /** The engine for this request: read it once, then use that value. */
  current(): PolicyEngine | undefined {
    return this.#engine;
  }

  get version(): string | undefined {
    return this.#engine?.version;
  }

  /** Reads the files and swaps if they changed. Reloads run one at a time; bursts share one. */
  reload(): Promise<PolicyReloadResult> {
    if (this.#queued === undefined) {
      const next = this.#tail.then(() => {
        this.#queued = undefined;
        return this.#load();
      });
      this.#queued = next;
      this.#tail = next;
    }
    return this.#queued;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }

  async #load(): Promise<PolicyReloadResult> {
    const { bundle, data } = this.#options;
    const previousVersion = this.#engine?.version;
    // A reload queued before close() must not swap after it.
    if (this.#closed) return { ok: true, unchanged: true, version: previousVersion };
    let fingerprint = "";
    try {
      this.#statSeen = await this.#statSignature();
      const wasm = await read(bundle);
      const dataBytes = data === undefined ? undefined : await read(data);
      fingerprint = `${sha256(wasm)}:${dataBytes === undefined ? "" : sha256(dataBytes)}`;
      if (fingerprint === this.#loadedFingerprint) return { ok: true, unchanged: true, version: previousVersion };
      if (fingerprint === this.#rejected?.fingerprint) return this.#rejected.event;
      const engine = await loadPolicyBundle(wasm, dataBytes === undefined ? undefined : parseData(dataBytes), {
        ...(this.#options.maxMemoryPages !== undefined ? { maxMemoryPages: this.#options.maxMemoryPages } : {}),
      });
      smokeTest(engine, this.#options.smokeInput ?? SMOKE_INPUT);
      if (this.#closed) return { ok: true, unchanged: true, version: previousVersion };
      this.#engine = engine; // the swap: one assignment, after every check passed
      this.#loadedFingerprint = fingerprint;
      this.#rejected = undefined;
      return this.#report({ ok: true, version: engine.version, dataVersion: engine.dataVersion, previousVersion });
    } catch (error) {
      const failure = error instanceof PolicyLoadError ? error : new PolicyLoadError("policy_bundle_invalid", String(error));
      const event: PolicyReloadEvent = { ok: false, code: failure.code, error: failure.message, keptVersion: previousVersion };
      this.#rejected = { fingerprint, event };
      return this.#report(event);
    }
  }

  #report(event: PolicyReloadEvent): PolicyReloadEvent {
    try {
      this.#options.onReload?.(event);
    } catch {
      // A failing logger must not undo a swap that already happened, nor break the reload queue.
    }
    return event;
  }

  async #statSignature(): Promise<string> {
    const paths = this.#options.data === undefined ? [this.#options.bundle] : [this.#options.bundle, this.#options.data];
    const parts = await Promise.all(paths.map((p) => stat(p).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => "missing")));
    return parts.join("|");
  }

  #startWatching(pollMs: number): void {
    if (this.#closed) return;
    this.#poll = setInterval(() => void this.#pollOnce(), pollMs).unref();
    if (this.#options.watch === false) return;
    const dirs = new Set([dirname(this.#options.bundle), ...(this.#options.data === undefined ? [] : [dirname(this.#options.data)])]);
    for (const dir of dirs) {
      try {
        // The whole directory, any name: atomic renames and Kubernetes' `..data` symlink swaps
        // replace the file rather than write to it. An unchanged file costs one read and a hash.
        const watcher = watch(dir, { persistent: false }, () => this.#schedule());
        watcher.on("error", () => watcher.close()); // the stat fallback carries on alone
        this.#watchers.push(watcher);
      } catch {
        // No fs.watch here (or the directory is missing for now): polling covers it.
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#options.debounceMs ?? 25).unref();
  }

  async #pollOnce(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      if ((await this.#statSignature()) !== this.#statSeen) await this.reload();
    } finally {
      this.#polling = false;
    }
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function read(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new PolicyLoadError("policy_unreadable", `cannot read ${path}: ${code}`, { cause: error });
  }
}

function parseData(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new PolicyLoadError("policy_data_invalid", `policy data is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
