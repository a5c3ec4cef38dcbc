// The validated configuration's shape; schema.json is the source of truth and these types mirror it.

export interface Address {
  host: string;
  port: number;
}

export interface Ceiling {
  max: number;
  windowSeconds: number;
}

export interface Ceilings {
  calls?: Ceiling;
  cost?: Ceiling;
}

export interface HeaderSource {
  env?: string;
  file?: string;
  prefix?: string;
}

export interface UpstreamConfig {
  name: string;
  url: string;
  sseUrl?: string;
  /** Other authorities (host[:port]) that name this server; the url's own always counts. */
  hosts?: string[];
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  connections: number;
  headers?: Record<string, HeaderSource>;
}

export type IntentExtractorConfig =
  | { kind: "http"; url: string; timeoutMs: number; apiKeyEnv?: string }
  | { kind: "openai"; baseUrl: string; model: string; timeoutMs: number; apiKeyEnv?: string }
  | { kind: "builtin" };

export interface IntentConfig {
  mode: "off" | "enforce" | "advisory";
  extractor?: IntentExtractorConfig;
  minConfidence: number;
  lowConfidence: "refuse" | "allow";
  cache: { maxEntries: number; ttlSeconds: number };
}

export interface MemoryConfig {
  provenance: boolean;
  mode: "enforce" | "advisory";
  writers?: string[];
  maxItems: number;
  maxContentBytes: number;
  maxAgeSeconds?: number;
}

export interface SidecarConfig {
  tenant: string;
  agent: string;
  listen?: Address;
  admin?: Address;
  keys: string;
  skewSeconds: number;
  revocations?: { file: string; maxStalenessSeconds: number; pollMs: number };
  upstreams: UpstreamConfig[];
  defaultUpstream?: string;
  /** Forward-proxy requests for undeclared hosts: refused, or passed through unchecked. */
  unknownHosts?: "refuse" | "passthrough";
  policy: { bundle: string; data?: string; mode: "enforce" | "dryRun" };
  intent: IntentConfig;
  memory: MemoryConfig;
  budget: { agent?: Ceilings; tenant?: Ceilings; costs?: Record<string, number> };
  audit: {
    spool: string;
    keys: string;
    stream?: string;
    checkpointEvery: number;
    checkpointIntervalSeconds: number;
    storeArgumentValues: boolean;
    recordOutcomes: boolean;
    maxBatch: number;
    maxSpoolBytes: number;
    /** Exactly one of url, urlEnv, embedded (checked after the schema). */
    database?: { url?: string; urlEnv?: string; embedded?: string; shipBatch: number; retryMaxMs: number };
  };
  toolsList: { filter: boolean };
  limits: {
    maxBodyBytes: number;
    maxDepth: number;
    maxHeaderBytes: number;
    maxBatch: number;
    requestTimeoutMs: number;
    maxResponseBytes: number;
    maxSseEventBytes: number;
  };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}
