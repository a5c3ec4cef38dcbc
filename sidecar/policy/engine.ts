// A loaded policy bundle: compiled and checked once, then `evaluate` per call. Evaluation never
// throws and does no I/O: every failure is a denial verdict with a stable code.
import { createHash } from "node:crypto";
import { canonicalize } from "../../wire/index.ts";
import { readDecision } from "./decision.ts";
import type { PolicyInput, PolicyVerdict } from "./types.ts";
import { compileWasm, DEFAULT_MAX_MEMORY_PAGES, instantiatePolicy, type CompiledPolicy, type WasmModule } from "./wasm.ts";

export type PolicyLoadErrorCode = "policy_unreadable" | "policy_bundle_invalid" | "policy_data_invalid" | "policy_smoke_failed";

/** A bundle that cannot become the active policy. Never crosses the wire; the old policy stays. */
export class PolicyLoadError extends Error {
  readonly code: PolicyLoadErrorCode;
  constructor(code: PolicyLoadErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PolicyLoadError";
    this.code = code;
  }
}

export interface PolicyEngineOptions {
  /** Upper bound of the policy's wasm memory, in 64 KiB pages. */
  maxMemoryPages?: number;
}

export interface PolicyEngine {
  /** First 12 hex digits of the sha256 of policy.wasm. */
  readonly version: string;
  /** First 12 hex digits of the sha256 of the data's RFC 8785 form; null without data. */
  readonly dataVersion: string | null;
  evaluate(input: PolicyInput): PolicyVerdict;
}

const MAX_MESSAGE = 500;

function shortHash(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 12);
}

// opa-wasm throws strings and plain objects as well as Errors.
function describe(error: unknown): string {
  const text = error instanceof Error ? error.message
    : typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
      ? (error as { message: string }).message
      : String(error);
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

class WasmPolicyEngine implements PolicyEngine {
  readonly version: string;
  readonly dataVersion: string | null;
  readonly #module: WasmModule;
  readonly #data: Record<string, unknown> | undefined;
  readonly #maxPages: number;
  #current: CompiledPolicy | null;

  constructor(module: WasmModule, compiled: CompiledPolicy, data: Record<string, unknown> | undefined, maxPages: number, version: string) {
    this.#module = module;
    this.#current = compiled;
    this.#data = data;
    this.#maxPages = maxPages;
    this.version = version;
    this.dataVersion = data === undefined ? null : shortHash(canonicalize(data));
  }

  evaluate(input: PolicyInput): PolicyVerdict {
    const current = this.#current;
    if (current === null) {
      return { ok: false, code: "policy_error", message: "policy instance is being replaced after a failed evaluation" };
    }
    try {
      return readDecision(current.policy.evaluate(input, current.entrypoint));
    } catch (error) {
      this.#renew();
      return { ok: false, code: "policy_error", message: describe(error) };
    }
  }

  // A trap or abort leaves the instance mid-evaluation (and its memory grown): rather than trust
  // it, deny until a fresh instance of the same compiled module is ready (no recompilation).
  #renew(): void {
    if (this.#current === null) return;
    this.#current = null;
    const renewed = instantiatePolicy(this.#module, this.#data, this.#maxPages);
    void renewed.then(
      (compiled) => { this.#current = compiled; },
      // Cannot happen for a module that instantiated once; if it does, the engine stays closed.
      () => undefined,
    );
  }
}

function asData(data: unknown): Record<string, unknown> | undefined {
  if (data === undefined) return undefined;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new PolicyLoadError("policy_data_invalid", "policy data must be a JSON object");
  }
  try {
    canonicalize(data); // refuses what JSON cannot carry, before it reaches the wasm
  } catch (error) {
    throw new PolicyLoadError("policy_data_invalid", `policy data is not JSON: ${describe(error)}`, { cause: error });
  }
  return data as Record<string, unknown>;
}

/** Compiles and checks a policy.wasm (and its data.json, parsed). Rejects with PolicyLoadError. */
export async function loadPolicyBundle(wasmBytes: Uint8Array, data?: unknown, options: PolicyEngineOptions = {}): Promise<PolicyEngine> {
  const objectData = asData(data);
  const maxPages = options.maxMemoryPages ?? DEFAULT_MAX_MEMORY_PAGES;
  if (!Number.isInteger(maxPages) || maxPages < 5 || maxPages > 65536) {
    throw new PolicyLoadError("policy_bundle_invalid", "maxMemoryPages must be an integer from 5 to 65536");
  }
  let module: WasmModule;
  let compiled: CompiledPolicy;
  try {
    module = await compileWasm(wasmBytes);
    compiled = await instantiatePolicy(module, objectData, maxPages);
  } catch (error) {
    throw new PolicyLoadError("policy_bundle_invalid", `not a usable policy bundle: ${describe(error)}`, { cause: error });
  }
  return new WasmPolicyEngine(module, compiled, objectData, maxPages, shortHash(wasmBytes));
}
