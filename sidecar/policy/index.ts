// The policy check's engine: compiled Rego (OPA wasm) loaded, evaluated and hot-swapped.
// Contract: docs/spec/policy.md.
export { loadPolicyBundle, PolicyLoadError, type PolicyEngine, type PolicyEngineOptions, type PolicyLoadErrorCode } from "./engine.ts";
export { PolicyStore, type PolicyReloadEvent, type PolicyReloadResult, type PolicyStoreOptions } from "./store.ts";
export { readDecision, readDecisionValue, MAX_REASON_CODE_POINTS } from "./decision.ts";
export { SMOKE_INPUT, smokeTest } from "./smoke.ts";
export { DEFAULT_MAX_MEMORY_PAGES, ENTRYPOINT } from "./wasm.ts";
export type {
  PolicyDecision,
  PolicyErrorCode,
  PolicyInput,
  PolicyIntentInput,
  PolicyMemoryInput,
  PolicyTokenInput,
  PolicyUsage,
  PolicyVerdict,
} from "./types.ts";
