// Loads the sidecar's configuration once: YAML or JSON, overrides from flags and environment,
// validated against schema.json (every error reported at once, with its path), then frozen.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parse as parseYaml } from "yaml";
import schema from "./schema.json" with { type: "json" };
import type { SidecarConfig } from "./types.ts";

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

const DEFAULT_EXTRACTOR_TIMEOUT_MS = 2000;
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(schema);

/** Common settings that flags or environment variables can set over the file. */
export interface ConfigOverrides {
  listen?: string;
  admin?: string;
  tenant?: string;
  agent?: string;
  keys?: string;
  policy?: string;
  audit?: string;
  logLevel?: string;
  upstreams?: string[]; // name=url
}

export function overridesFromEnv(env: NodeJS.ProcessEnv): ConfigOverrides {
  const pick = (name: string): string | undefined => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const out: ConfigOverrides = {};
  const set = <K extends keyof ConfigOverrides>(key: K, value: ConfigOverrides[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set("listen", pick("INTENTGATE_LISTEN"));
  set("admin", pick("INTENTGATE_ADMIN"));
  set("tenant", pick("INTENTGATE_TENANT"));
  set("agent", pick("INTENTGATE_AGENT"));
  set("logLevel", pick("INTENTGATE_LOG_LEVEL"));
  return out;
}

export function loadConfigFile(path: string, overrides: ConfigOverrides = {}): SidecarConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, strict: true });
  } catch (error) {
    throw new ConfigError([`${path} does not parse: ${(error as Error).message.split("\n")[0]}`]);
  }
  return buildConfig(raw, overrides, dirname(resolve(path)));
}

/** Validates a configuration object; relative paths are resolved against `baseDir`. */
export function buildConfig(raw: unknown, overrides: ConfigOverrides, baseDir: string): SidecarConfig {
  const config = structuredClone(raw ?? {}) as Record<string, unknown>;
  const problems = applyOverrides(config, overrides);
  if (!validate(config)) problems.push(...(validate.errors ?? []).map(describe));
  if (problems.length === 0) problems.push(...semanticProblems(config as unknown as SidecarConfig));
  if (problems.length > 0) throw new ConfigError(problems);
  const c = config as unknown as SidecarConfig;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  c.keys = abs(c.keys);
  c.policy.bundle = abs(c.policy.bundle);
  if (c.policy.data !== undefined) c.policy.data = abs(c.policy.data);
  c.audit.spool = abs(c.audit.spool);
  c.audit.keys = abs(c.audit.keys);
  if (c.audit.database?.embedded !== undefined) c.audit.database.embedded = abs(c.audit.database.embedded);
  if (c.revocations !== undefined) c.revocations.file = abs(c.revocations.file);
  // Defaults inside the extractor's oneOf branches (ajv does not apply defaults there).
  if (c.intent.extractor !== undefined && c.intent.extractor.kind !== "builtin") c.intent.extractor.timeoutMs ??= DEFAULT_EXTRACTOR_TIMEOUT_MS;
  for (const u of c.upstreams) for (const h of Object.values(u.headers ?? {})) if (h.file !== undefined) h.file = abs(h.file);
  return deepFreeze(c);
}

function describe(error: ErrorObject): string {
  const at = error.instancePath === "" ? "(root)" : error.instancePath;
  if (error.keyword === "additionalProperties") return `${at}: unknown key "${String(error.params["additionalProperty"])}"`;
  if (error.keyword === "enum") return `${at}: must be one of ${JSON.stringify(error.params["allowedValues"])}`;
  return `${at}: ${error.message ?? error.keyword}`;
}

function applyOverrides(config: Record<string, unknown>, o: ConfigOverrides): string[] {
  const problems: string[] = [];
  const address = (text: string, flag: string): { host: string; port: number } | undefined => {
    const m = /^(.*):(\d{1,5})$/.exec(text);
    if (m === null || Number(m[2]) > 65535) return void problems.push(`${flag}: "${text}" is not host:port`);
    return { host: (m[1] || "127.0.0.1").replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
  };
  if (o.listen !== undefined) config["listen"] = address(o.listen, "listen");
  if (o.admin !== undefined) config["admin"] = address(o.admin, "admin");
  if (o.tenant !== undefined) config["tenant"] = o.tenant;
  if (o.agent !== undefined) config["agent"] = o.agent;
  if (o.keys !== undefined) config["keys"] = o.keys;
  if (o.logLevel !== undefined) config["logLevel"] = o.logLevel;
  if (o.policy !== undefined) config["policy"] = { ...(config["policy"] as object | undefined), bundle: o.policy };
  if (o.audit !== undefined) config["audit"] = { ...(config["audit"] as object | undefined), spool: o.audit };
  for (const spec of o.upstreams ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0) {
      problems.push(`upstream: "${spec}" is not name=url`);
      continue;
    }
    const name = spec.slice(0, eq);
    const list = (Array.isArray(config["upstreams"]) ? config["upstreams"] : []) as Array<Record<string, unknown>>;
    config["upstreams"] = [...list.filter((u) => u["name"] !== name), { name, url: spec.slice(eq + 1) }];
  }
  return problems;
}

function semanticProblems(c: SidecarConfig): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const [i, u] of c.upstreams.entries()) {
    if (names.has(u.name)) problems.push(`/upstreams/${i}/name: "${u.name}" appears twice`);
    names.add(u.name);
    try {
      new URL(u.url);
    } catch {
      problems.push(`/upstreams/${i}/url: not a URL`);
    }
  }
  const database = c.audit.database;
  if (database !== undefined) {
    const given = (["url", "urlEnv", "embedded"] as const).filter((k) => database[k] !== undefined);
    if (given.length !== 1) problems.push(`/audit/database: give exactly one of url, urlEnv or embedded${given.length > 1 ? ` (got ${given.join(", ")})` : ""}`);
  }
  if (c.defaultUpstream !== undefined && !names.has(c.defaultUpstream)) {
    problems.push(`/defaultUpstream: "${c.defaultUpstream}" is not one of the upstreams`);
  }
  if (c.intent.mode !== "off" && c.intent.extractor === undefined) problems.push(`/intent: mode "${c.intent.mode}" needs an extractor`);
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
