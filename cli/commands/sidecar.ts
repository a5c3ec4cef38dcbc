// `intentgate sidecar`: run the gateway in front of one or more MCP servers (standalone mode).
import { Command } from "commander";
import { ConfigError, loadConfigFile, overridesFromEnv, type ConfigOverrides } from "../../sidecar/config/load.ts";
import { createLogger } from "../../sidecar/observability/logger.ts";
import { startSidecar } from "../../sidecar/start.ts";
import { startKubernetesSidecar } from "../../sidecar/kube/start.ts";
import { CliError } from "../errors.ts";
import { parseAddress, waitForSignal } from "./addresses.ts";

interface SidecarFlags {
  config?: string;
  kubernetes?: boolean;
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
    .option("--config <file>", "YAML or JSON configuration (schema: sidecar/config/schema.json): standalone mode")
    .option("--kubernetes", "Kubernetes mode: the configuration is the controller's snapshot (env INTENTGATE_CONTROLLER_URL, INTENTGATE_TOKEN_FILE, INTENTGATE_STATE_DIR, INTENTGATE_POD_NAME, INTENTGATE_POD_UID)")
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
      if ((flags.config === undefined) === (flags.kubernetes !== true)) throw new CliError("give exactly one of --config <file> (standalone) and --kubernetes");
      if (flags.kubernetes === true) return runKubernetesSidecar(flags);
      const overrides: ConfigOverrides = { ...overridesFromEnv(process.env) };
      for (const key of ["listen", "admin", "tenant", "agent", "keys", "policy", "audit", "logLevel"] as const) {
        const value = flags[key];
        if (value !== undefined) overrides[key] = value;
      }
      if (flags.upstream) overrides.upstreams = flags.upstream;
      let config;
      try {
        config = loadConfigFile(flags.config as string, overrides);
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

async function runKubernetesSidecar(flags: SidecarFlags): Promise<void> {
  const env = (name: string): string | undefined => process.env[`INTENTGATE_${name}`] || undefined;
  const required = (name: string, what = ""): string => {
    const value = env(name);
    if (value === undefined) throw new CliError(`--kubernetes needs INTENTGATE_${name}${what}`);
    return value;
  };
  const log = createLogger(flags.logLevel ?? env("LOG_LEVEL") ?? "info");
  const leases = env("BUDGET_LEASES");
  if (leases !== undefined && leases !== "true" && leases !== "false") throw new CliError("INTENTGATE_BUDGET_LEASES must be true or false");
  let handle;
  try {
    handle = await startKubernetesSidecar({
      controllerUrl: required("CONTROLLER_URL"),
      tokenFile: required("TOKEN_FILE"),
      stateDir: required("STATE_DIR"),
      podName: required("POD_NAME"),
      podUid: required("POD_UID", " (the pod's metadata.uid, from the downward API: its audit stream is named for it)"),
      listen: parseAddress(flags.listen ?? env("LISTEN") ?? "127.0.0.1:7070", "--listen"),
      admin: parseAddress(flags.admin ?? env("ADMIN") ?? "0.0.0.0:7071", "--admin"),
      log,
      leases: leases === "true",
      ...(env("CONTROLLER_CA") !== undefined ? { controllerCa: env("CONTROLLER_CA") as string } : {}),
    });
  } catch (error) {
    throw new CliError(`sidecar did not start: ${(error as Error).message}`);
  }
  await waitForSignal(log, () => handle.close());
}
