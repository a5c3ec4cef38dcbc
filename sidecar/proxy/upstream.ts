// One upstream MCP server: its undici pool (built once at start-up), its paths and the credential
// headers the sidecar adds for it.
import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { UpstreamConfig } from "../config/types.ts";

export class Upstream {
  readonly name: string;
  readonly pool: Pool;
  readonly path: string;
  readonly origin: string;
  readonly sse: { pool: Pool; origin: string; path: string } | undefined;
  readonly credentials: Readonly<Record<string, string>>;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;

  constructor(config: UpstreamConfig, env: NodeJS.ProcessEnv) {
    this.name = config.name;
    const url = new URL(config.url);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    const poolOptions = { connections: config.connections, connectTimeout: config.connectTimeoutMs, pipelining: 1 };
    this.pool = new Pool(url.origin, poolOptions);
    if (config.sseUrl !== undefined) {
      const sse = new URL(config.sseUrl);
      const pool = sse.origin === url.origin ? this.pool : new Pool(sse.origin, poolOptions);
      this.sse = { pool, origin: sse.origin, path: `${sse.pathname}${sse.search}` };
    } else {
      this.sse = undefined;
    }
    this.credentials = Object.freeze(resolveCredentials(config, env));
    this.headersTimeout = config.headersTimeoutMs;
    this.bodyTimeout = config.bodyTimeoutMs;
  }

  async close(): Promise<void> {
    await this.pool.close();
    if (this.sse !== undefined && this.sse.pool !== this.pool) await this.sse.pool.close();
  }
}

function resolveCredentials(config: UpstreamConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [header, source] of Object.entries(config.headers ?? {})) {
    let value: string | undefined;
    if (source.env !== undefined) {
      value = env[source.env];
      if (value === undefined) throw new Error(`upstream ${config.name}: environment variable ${source.env} for header ${header} is not set`);
    } else if (source.file !== undefined) {
      value = readFileSync(source.file, "utf8").trim();
    }
    out[header.toLowerCase()] = `${source.prefix ?? ""}${value ?? ""}`;
  }
  return out;
}
