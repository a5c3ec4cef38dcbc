// Test harness: a real demo MCP server (official SDK), a real sidecar in front of it with keys,
// a revocation list and a real compiled policy, all in a temporary folder.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startDemoServer, type DemoServer } from "../../examples/demo/mcp-server.ts";
import { buildConfig } from "../../sidecar/config/load.ts";
import { startSidecar, type SidecarHandle, type StartOptions } from "../../sidecar/start.ts";
import { KeyRing, mintToken, type Caveat } from "../../wire/index.ts";
import { AuditKeys, type AuditRecord } from "../../wire/audit/index.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const TENANT = "acme";
export const AGENT = "agent-1";

export interface Gateway {
  dir: string;
  demo: DemoServer;
  sidecar: SidecarHandle;
  keys: KeyRing;
  auditSpool: string;
  /** Every audit record in the spool, in order. */
  auditRecords(): AuditRecord[];
  revocationsFile: string;
  mint(caveats?: Caveat[], subject?: string): string;
  close(): Promise<void>;
}

export interface GatewayOptions {
  policy?: "default" | "finance" | "read-only" | "testdata/bad-decisions";
  jsonResponse?: boolean;
  /** Put this URL behind both routes instead of the demo server (transport-level tests). */
  upstreamUrl?: string;
  config?: Record<string, unknown>;
  start?: Partial<StartOptions>;
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-test-"));
  const keyFile = KeyRing.generateFile("k1");
  writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o600 });
  const keys = KeyRing.fromFile(keyFile);
  writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("audit-test")), { mode: 0o600 });
  const revocationsFile = join(dir, "revocations.json");
  writeFileSync(revocationsFile, JSON.stringify({ version: 1, revoked: [] }));
  const demo = await startDemoServer({ jsonResponse: options.jsonResponse ?? false });
  const policy = options.policy ?? "finance";
  const config = buildConfig(
    {
      tenant: TENANT,
      agent: AGENT,
      listen: { host: "127.0.0.1", port: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      keys: join(dir, "keys.json"),
      revocations: { file: revocationsFile, pollMs: 50 },
      upstreams: options.upstreamUrl
        ? [
            { name: "files", url: options.upstreamUrl },
            { name: "payments", url: options.upstreamUrl },
          ]
        : [
            { name: "files", url: demo.url, sseUrl: demo.sseUrl },
            { name: "payments", url: demo.url, sseUrl: demo.sseUrl },
          ],
      policy: { bundle: join(ROOT, `policies/${policy}/build/policy.wasm`), ...(policy === "finance" ? { data: join(ROOT, "policies/finance/build/data.json") } : {}) },
      audit: { spool: join(dir, "audit-spool"), keys: join(dir, "audit-keys.json"), stream: "test-stream" },
      logLevel: "silent",
      ...options.config,
    },
    {},
    dir,
  );
  let sidecar: SidecarHandle;
  try {
    sidecar = await startSidecar(config, { log: pino({ level: "silent" }), ...options.start });
  } catch (error) {
    await demo.close();
    throw error;
  }
  return {
    dir,
    demo,
    sidecar,
    keys,
    auditSpool: join(dir, "audit-spool"),
    auditRecords: () => readSpool(join(dir, "audit-spool")),
    revocationsFile,
    mint: (caveats = [{ type: "tools", allow: ["files.*", "payments.*"] }], subject = AGENT) =>
      mintToken(keys, { tenant: TENANT, subject, caveats, issuedAt: Math.floor(Date.now() / 1000) }),
    async close() {
      await sidecar.close();
      await demo.close();
    },
  };
}

export function readSpool(dir: string): AuditRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^seg-\d{12}\.ndjson$/.test(name))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean))
    .map((line) => JSON.parse(line) as AuditRecord);
}
