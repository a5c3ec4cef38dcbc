// Shared by the policy tests: the committed bundles under policies/, a full input document, and
// the real opa binary (the oracle and the compiler for throwaway policies). Not used at run time.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPolicyBundle, type PolicyEngine, type PolicyEngineOptions } from "./engine.ts";
import { SMOKE_INPUT } from "./smoke.ts";
import type { PolicyInput } from "./types.ts";

export const POLICIES_DIR = fileURLToPath(new URL("../../policies/", import.meta.url));

export interface BundleFiles {
  wasmPath: string;
  dataPath: string | undefined;
  /** The .rego sources (tests excluded) and data.json, for `opa eval`. */
  sources: string[];
}

/** `name` is a folder under policies/ ("finance", "testdata/bad-decisions"). */
export function bundleFiles(name: string): BundleFiles {
  const dir = join(POLICIES_DIR, name);
  const dataPath = join(dir, "build", "data.json");
  const sources = [join(dir, "policy.rego"), ...(existsSync(join(dir, "data.json")) ? [join(dir, "data.json")] : [])];
  return { wasmPath: join(dir, "build", "policy.wasm"), dataPath: existsSync(dataPath) ? dataPath : undefined, sources };
}

export function manifestSha256(name: string): string {
  const manifest = JSON.parse(readFileSync(join(POLICIES_DIR, "build-manifest.json"), "utf8")) as {
    policies: Record<string, { wasm_sha256: string } | undefined>;
  };
  const entry = manifest.policies[name];
  if (entry === undefined) throw new Error(`${name} is not in policies/build-manifest.json`);
  return entry.wasm_sha256;
}

export function readData(name: string): unknown {
  const { dataPath } = bundleFiles(name);
  return dataPath === undefined ? undefined : JSON.parse(readFileSync(dataPath, "utf8"));
}

export function loadCommitted(name: string, options?: PolicyEngineOptions): Promise<PolicyEngine> {
  return loadPolicyBundle(readFileSync(bundleFiles(name).wasmPath), readData(name), options);
}

/** A full input document; `patch` replaces top-level fields. */
export function input(patch: Partial<PolicyInput> = {}): PolicyInput {
  return { ...structuredClone(SMOKE_INPUT), ...patch };
}

export function call(server: string, tool: string, patch: Partial<PolicyInput> = {}): PolicyInput {
  return input({ server, tool, name: `${server}.${tool}`, ...patch });
}

/** The pinned opa: $OPA_BIN, else the toolchain cache scripts/toolchain.sh installs into, else PATH. */
export function opaBinary(): string {
  if (process.env["OPA_BIN"]) return process.env["OPA_BIN"];
  const tools = process.env["INTENTGATE_TOOLS"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(process.env["HOME"] ?? "", ".cache"), "intentgate");
  const cached = join(tools, "bin", "opa");
  return existsSync(cached) ? cached : "opa";
}

export interface OpaRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runOpa(args: string[], stdin?: string): Promise<OpaRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(opaBinary(), args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      if (code === -1) reject(new Error(`cannot run opa (${opaBinary()}): ${error?.message ?? ""}; scripts/build-policies.sh installs it`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? "");
  });
}

/** Compiles Rego with the real opa into a temp dir, without the SDK capabilities unless given. */
export async function compileRego(rego: string, args: string[] = []): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), "intentgate-rego-"));
  try {
    await writeFile(join(dir, "policy.rego"), rego);
    const built = await runOpa(["build", "-t", "wasm", "-o", join(dir, "bundle.tar.gz"), ...args, join(dir, "policy.rego")]);
    if (built.code !== 0) throw new Error(`opa build failed: ${built.stderr}`);
    return await new Promise<Buffer>((resolve, reject) => {
      execFile("tar", ["-xzOPf", join(dir, "bundle.tar.gz"), "/policy.wasm"], { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
        error === null ? resolve(stdout) : reject(error));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
