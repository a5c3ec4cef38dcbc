// The one file that talks to @open-policy-agent/opa-wasm: instantiates a compiled policy with a
// bounded memory and checks, at load time, that it can run here at all.
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";

/** The rule every IntentGate policy bundle is built for (`opa build -e intentgate/decision`). */
export const ENTRYPOINT = "intentgate/decision";

/** 64 MiB: room for large tool arguments, while a runaway policy cannot take the pod's memory. */
export const DEFAULT_MAX_MEMORY_PAGES = 1024;

/**
 * Builtins that opa-wasm 1.10.0 implements in JavaScript (its src/builtins/*.js); the rest of its
 * capabilities.json is native to the wasm. A test pins this list to the installed SDK.
 */
export const SDK_BUILTINS: ReadonlySet<string> = new Set([
  "json.is_valid", "regex.split", "sprintf", "yaml.is_valid", "yaml.marshal", "yaml.unmarshal",
]);

/**
 * Our own builtins: none. Policies read the clock from `input.time`, taken once per call by the
 * pipeline, so a decision is reproducible (audit replay, the differential test against `opa eval`)
 * and `time.now_ns` stays out of the capabilities, where `opa build` refuses it.
 */
export const CUSTOM_BUILTINS: Readonly<Record<string, (...args: unknown[]) => unknown>> = {};

// tsconfig has no "dom" lib (server code), so the little of the WebAssembly API used here is typed
// locally rather than by a global declaration that could clash with one added later.
/** A compiled WebAssembly.Module: instantiated again and again without recompiling. */
export interface WasmModule {
  readonly [Symbol.toStringTag]: string;
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: unknown;
}
const webAssembly = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

/** Compiles policy.wasm once; each instance of it is then cheap. */
export function compileWasm(bytes: Uint8Array): Promise<WasmModule> {
  return webAssembly.compile(bytes);
}

export interface CompiledPolicy {
  policy: LoadedPolicy;
  /** Numeric id of ENTRYPOINT, so evaluation skips the by-name lookup. */
  entrypoint: number;
}

interface OpaExports {
  builtins(): number;
  opa_json_dump(address: number): number;
}

function readCString(memory: WasmMemory, address: number): string {
  const bytes = new Uint8Array(memory.buffer);
  const end = bytes.indexOf(0, address);
  return new TextDecoder().decode(bytes.subarray(address, end < 0 ? bytes.length : end));
}

/** The non-native builtins the policy calls; each one must have a JavaScript implementation. */
function requiredBuiltins(policy: LoadedPolicy): string[] {
  const exports = (policy.wasmInstance as WasmInstance).exports as OpaExports;
  const json = readCString(policy.mem as WasmMemory, exports.opa_json_dump(exports.builtins()));
  return Object.keys(JSON.parse(json) as Record<string, number>);
}

/** Instantiates a fresh copy (own memory) of a compiled policy; throws with a readable message. */
export async function instantiatePolicy(
  module: WasmModule,
  data: Record<string, unknown> | undefined,
  maxMemoryPages: number,
): Promise<CompiledPolicy> {
  const policy = await loadPolicy(module, { initial: 5, maximum: maxMemoryPages }, { ...CUSTOM_BUILTINS });
  const entrypoints = policy.entrypoints as Record<string, number>;
  const entrypoint = entrypoints[ENTRYPOINT];
  if (!Object.hasOwn(entrypoints, ENTRYPOINT) || typeof entrypoint !== "number") {
    throw new Error(`bundle has no ${ENTRYPOINT} entrypoint (has: ${Object.keys(entrypoints).join(", ") || "none"})`);
  }
  const missing = requiredBuiltins(policy).filter((name) => !SDK_BUILTINS.has(name) && !Object.hasOwn(CUSTOM_BUILTINS, name));
  if (missing.length > 0) {
    throw new Error(`policy calls builtins the sidecar does not provide: ${missing.join(", ")} (build with the opa-wasm capabilities)`);
  }
  if (data !== undefined) policy.setData(data);
  return { policy, entrypoint };
}
