// Compiles a ToolPolicy's Rego modules to wasm with the real `opa build -t wasm`, in a fresh folder
// with relative file names so equal sources give equal bytes. Errors come back as OPA reports them
// (file:line:col), ready for the policy's status. Results are cached by the sources' hash, so every
// controller replica can compile on its own and agree on the version.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { canonicalize } from "../../wire/jcs.ts";
// The builtins opa-wasm can run: `opa build` refuses any other instead of the call failing at evaluation.
// Imported (not read at run time) so the controller's bundle carries it.
import wasmCapabilities from "../../node_modules/@open-policy-agent/opa-wasm/capabilities.json" with { type: "json" };

export interface PolicySources {
  modules: Record<string, string>;
  data?: Record<string, unknown> | undefined;
  entrypoint: string;
}

export type CompileResult =
  | { ok: true; wasm: Buffer; version: string }
  | { ok: false; errors: string[] };

const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.rego$/;

export class PolicyCompiler {
  readonly #opa: string;
  readonly #cache = new Map<string, Promise<CompileResult>>();

  constructor(opaBinary = "opa") {
    this.#opa = opaBinary;
  }

  compile(sources: PolicySources): Promise<CompileResult> {
    const key = createHash("sha256").update(canonicalize({ m: sources.modules, d: sources.data ?? null, e: sources.entrypoint })).digest("hex");
    let result = this.#cache.get(key);
    if (result === undefined) {
      result = this.#build(sources);
      this.#cache.set(key, result);
      if (this.#cache.size > 256) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    return result;
  }

  async #build(sources: PolicySources): Promise<CompileResult> {
    const names = Object.keys(sources.modules).sort();
    const bad = names.filter((n) => !MODULE_NAME.test(n));
    if (bad.length > 0) return { ok: false, errors: bad.map((n) => `module name "${n}" must be a plain file name ending in .rego`) };
    if (names.length === 0) return { ok: false, errors: ["no Rego modules"] };
    const dir = await mkdtemp(join(tmpdir(), "intentgate-policy-"));
    try {
      for (const name of names) await writeFile(join(dir, name), sources.modules[name] as string);
      const files = [...names];
      if (sources.data !== undefined) {
        await writeFile(join(dir, "data.json"), JSON.stringify(sources.data));
        files.push("data.json");
      }
      await writeFile(join(dir, "capabilities.json"), JSON.stringify({ ...wasmCapabilities, features: ["rego_v1"] }));
      const run = await execFileResult(this.#opa, ["build", "-t", "wasm", "-e", sources.entrypoint, "--capabilities", "capabilities.json", "-o", "bundle.tar.gz", ...files], dir);
      if (run.code !== 0) return { ok: false, errors: opaErrors(run.stderr || run.stdout) };
      const wasm = untarMember(gunzipSync(await readFile(join(dir, "bundle.tar.gz"))), "/policy.wasm");
      if (wasm === undefined) return { ok: false, errors: ["opa build produced no policy.wasm"] };
      return { ok: true, wasm, version: "sha256:" + createHash("sha256").update(wasm).digest("hex") };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function execFileResult(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** OPA prints "N errors occurred:" then one "file:line: rego_x_error: message" per line. */
function opaErrors(text: string): string[] {
  const lines = text
    .split("\n")
    .map((l) => l.trim().replace(/^error: /, "").replace(/^\d+ errors? occurred:\s*/, ""))
    .filter((l) => l !== "");
  return lines.length > 0 ? lines.slice(0, 20) : ["opa build failed without a message"];
}

/** Reads one member of an uncompressed tar (ustar): 512-byte headers, size in octal at offset 124. */
function untarMember(tar: Buffer, wanted: string): Buffer | undefined {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return undefined;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const prefix = header.subarray(345, 500).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(header.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
    const full = prefix ? `${prefix}/${name}` : name;
    const body = offset + 512;
    if (full === wanted || `/${full}` === wanted) return Buffer.from(tar.subarray(body, body + size));
    offset = body + Math.ceil(size / 512) * 512;
  }
  return undefined;
}
