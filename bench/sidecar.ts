// The sidecar under test, with every check on, and the files it needs: a key ring, a revocation
// list (1,000 revoked ids plus one token of ours), a real compiled policy with its data, an agent
// budget, the hash-chained audit log (audit keys, a spool fsynced per batch, signed checkpoints). `prepareSidecar` writes them; run as a script, this
// file starts the sidecar the way `intentgate sidecar --config` does (loadConfigFile, then
// startSidecar) and prints one JSON line {"url", "adminUrl"} when it listens.
//   node bench/sidecar.ts <config.json>
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigFile } from "../sidecar/config/load.ts";
import { createLogger } from "../sidecar/observability/logger.ts";
import { startSidecar } from "../sidecar/start.ts";
import { AuditKeys } from "../wire/audit/index.ts";
import { attenuateToken, KeyRing, mintToken, promptSha256, revocationIds, type Caveat } from "../wire/index.ts";

export const ROOT = new URL("../", import.meta.url).pathname;
export const TENANT = "acme";
export const AGENT = "agent-1";
export const PROMPT = "Pay the March invoice of Zoë Ångström: 250,00 €";

export interface SidecarFixture {
  config: string;
  auditSpool: string;
  auditKeys: string;
  revocationsFile: string;
  /** Covers the benchmark call: one hop attenuated from a root with six caveats. */
  token: string;
  /** Same grant, but its root id is on the revocation list. */
  revokedToken: string;
  /** A call the token covers and the policy must block (a negative control). */
  policyControl: { name: string; token: string; tool: string; arguments: Record<string, unknown> };
  policy: string;
  budget: { max: number; windowSeconds: number };
}

export interface FixtureOptions {
  policy: "finance" | "default";
  /** The agent's calls ceiling window (the ceiling is far above what a run can reach); 0: no budget. */
  budgetWindowSeconds: number;
}

export function prepareSidecar(dir: string, upstreamUrl: string, port: number, adminPort: number, options: FixtureOptions): SidecarFixture {
  const keyFile = KeyRing.generateFile("k1");
  writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o600 });
  const keys = KeyRing.fromFile(keyFile);
  const now = Math.floor(Date.now() / 1000);
  const caveats: Caveat[] = [
    { type: "tools", allow: ["payments.transfer", "payments.balance", "files.read_*"] },
    { type: "servers", allow: ["payments", "files"] },
    { type: "expires", at: now + 7 * 86400 },
    { type: "agent", id: AGENT },
    { type: "arg", tools: ["payments.transfer"], path: "/amount", op: "le", value: 1500 },
    { type: "prompt", sha256: promptSha256(PROMPT) },
  ];
  const hop: Caveat[] = [{ type: "tools", allow: ["payments.transfer"] }, { type: "expires", at: now + 86400 }];
  const mint = (): string => attenuateToken(mintToken(keys, { tenant: TENANT, subject: AGENT, caveats, issuedAt: now }), hop);
  const token = mint();
  const revokedToken = mint();
  const revoked = Array.from({ length: 1000 }, (_, i) => ({ id: `revoked-${String(i).padStart(8, "0")}`, revoked_at: "2026-01-01T00:00:00.000Z" }));
  revoked.push({ id: revocationIds(revokedToken)[0] as string, revoked_at: new Date().toISOString() });
  // finance blocks a transfer to a country off its allowlist; default blocks a destructive tool.
  const policyControl =
    options.policy === "finance"
      ? { name: "policy: IBAN country not allowlisted", token, tool: "transfer", arguments: { amount: 250, currency: "EUR", iban: "US12 3456 7890 1234 5678 90" } }
      : {
          name: "policy: destructive tool",
          token: mintToken(keys, { tenant: TENANT, subject: AGENT, caveats: [{ type: "tools", allow: ["payments.delete_*"] }, { type: "expires", at: now + 86400 }], issuedAt: now }),
          tool: "delete_records",
          arguments: { before: "2020-01-01" },
        };
  const revocationsFile = join(dir, "revocations.json");
  writeFileSync(revocationsFile, JSON.stringify({ version: 1, revoked }));

  const budget = { max: 1_000_000_000, windowSeconds: options.budgetWindowSeconds };
  const policyDir = join(ROOT, "policies", options.policy, "build");
  const auditSpool = join(dir, "audit-spool");
  const auditKeys = join(dir, "audit-keys.json");
  writeFileSync(auditKeys, JSON.stringify(AuditKeys.generateFile("bench")), { mode: 0o600 });
  const config = {
    tenant: TENANT,
    agent: AGENT,
    listen: { host: "127.0.0.1", port },
    admin: { host: "127.0.0.1", port: adminPort },
    keys: join(dir, "keys.json"),
    revocations: { file: revocationsFile },
    upstreams: [{ name: "payments", url: upstreamUrl }],
    policy: { bundle: join(policyDir, "policy.wasm"), ...(options.policy === "finance" ? { data: join(policyDir, "data.json") } : {}), mode: "enforce" },
    budget: options.budgetWindowSeconds > 0 ? { agent: { calls: budget } } : {},
    audit: { spool: auditSpool, keys: auditKeys, stream: "bench" },
    logLevel: "warn",
  };
  const configFile = join(dir, "sidecar.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { config: configFile, auditSpool, auditKeys, revocationsFile, token, revokedToken, policyControl, policy: options.policy, budget };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write("usage: node bench/sidecar.ts <config.json>\n");
    process.exit(2);
  }
  const config = loadConfigFile(file);
  const handle = await startSidecar(config, { log: createLogger(config.logLevel, process.stderr) });
  process.stdout.write(`${JSON.stringify({ url: handle.url, adminUrl: handle.adminUrl })}\n`);
  // A normal exit (not a signal death) so that --cpu-prof writes its profile.
  process.once("SIGTERM", () => void handle.close().finally(() => process.exit(0)));
}
