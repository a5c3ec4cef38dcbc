// `intentgate sidecar`: run the gateway in front of one or more MCP servers (standalone mode).
import { Command } from "commander";
import { ConfigError, loadConfigFile, overridesFromEnv, type ConfigOverrides } from "../../sidecar/config/load.ts";
import { createLogger } from "../../sidecar/observability/logger.ts";
import { startSidecar } from "../../sidecar/start.ts";
import { CliError } from "../errors.ts";

interface SidecarFlags {
  config: string;
  listen?: string;
  admin?: string;
  upstream?: string[];
  tenant?: string;
  agent?: string;
  keys?: string;
  policy?: string;
  audit?: string;
  logLevel?: string;
}

export function sidecarCommand(): Command {
  return new Command("sidecar")
    .description("run the MCP gateway: every tools/call is checked (token, memory, intent, policy, budget), audited, then forwarded or refused")
    .requiredOption("--config <file>", "YAML or JSON configuration (schema: sidecar/config/schema.json)")
    .option("--listen <host:port>", "where agents connect (env INTENTGATE_LISTEN)")
    .option("--admin <host:port>", "metrics and health endpoints (env INTENTGATE_ADMIN)")
    .option("--upstream <name=url...>", "add or replace an upstream MCP server")
    .option("--tenant <tenant>", "tenant to enforce (env INTENTGATE_TENANT)")
    .option("--agent <id>", "agent identity this gateway fronts (env INTENTGATE_AGENT)")
    .option("--keys <file>", "key file (relative paths are resolved against the configuration file's folder)")
    .option("--policy <file>", "compiled policy.wasm")
    .option("--audit <folder>", "audit spool folder")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent (env INTENTGATE_LOG_LEVEL)")
    .action(async (flags: SidecarFlags) => {
      const overrides: ConfigOverrides = { ...overridesFromEnv(process.env) };
      for (const key of ["listen", "admin", "tenant", "agent", "keys", "policy", "audit", "logLevel"] as const) {
        const value = flags[key];
        if (value !== undefined) overrides[key] = value;
      }
      if (flags.upstream) overrides.upstreams = flags.upstream;
      let config;
      try {
        config = loadConfigFile(flags.config, overrides);
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.message);
        throw error;
      }
      const log = createLogger(config.logLevel);
      let handle;
      try {
        handle = await startSidecar(config, { log });
      } catch (error) {
        throw new CliError(`sidecar did not start: ${(error as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, "shutting down");
          void handle.close().then(resolve, resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
