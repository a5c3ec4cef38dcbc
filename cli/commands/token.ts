// `intentgate token …`: mint, attenuate, verify, inspect and revoke capability tokens.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import {
  checkCoverage,
  decodeToken,
  foldCaveats,
  KeyError,
  mintToken,
  attenuateToken,
  parseRevocationFile,
  revocationIds,
  RevocationFileError,
  RevocationSet,
  TokenBuildError,
  verifyToken,
  caveatProblem,
  type Caveat,
  type RevocationFile,
} from "../../wire/index.ts";
import { addCaveatFlags, caveatsFromFlags, type CaveatFlags } from "../caveat-flags.ts";
import { CliError, EXIT } from "../errors.ts";
import { readJsonFile, writeSecretFile } from "../files.ts";
import type { Output } from "../output.ts";
import { loadKeyFile } from "./keys.ts";

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The token itself, or with "-" all of standard input (read as a stream: pipes may be non-blocking). */
async function readToken(value: string): Promise<string> {
  if (value !== "-") return value.trim();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").trim();
}

function build(fn: () => string): string {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TokenBuildError) throw new CliError(`${error.code}: ${error.message}`);
    // A tenant-scoped key file asked to sign for another tenant is a usage error, not an internal one.
    if (error instanceof KeyError) throw new CliError(`${error.code}: ${error.message}`);
    throw error;
  }
}

function loadRevocations(path: string): RevocationSet {
  try {
    return RevocationSet.fromFile(readJsonFile(path, "revocation file"));
  } catch (error) {
    if (error instanceof RevocationFileError) throw new CliError(`${path}: ${error.message}`);
    throw error;
  }
}

export function tokenCommand(out: Output): Command {
  const token = new Command("token").description("mint, attenuate, verify and inspect capability tokens");

  addCaveatFlags(
    token
      .command("mint")
      .description("mint a token for one agent of one tenant (needs the key file)")
      .requiredOption("--keys <file>", "key file")
      .requiredOption("--tenant <tenant>", "tenant the token belongs to")
      .requiredOption("--agent <id>", "agent identity the token is bound to")
      .option("--issuer <name>", "issuer recorded in the header", "intentgate"),
  ).action((opts: CaveatFlags & { keys: string; tenant: string; agent: string; issuer: string }) => {
    const { ring } = loadKeyFile(opts.keys);
    const now = nowSeconds();
    const caveats = caveatsFromFlags(opts, now);
    out.line(build(() => mintToken(ring, { tenant: opts.tenant, subject: opts.agent, issuer: opts.issuer, caveats, issuedAt: now })));
  });

  addCaveatFlags(
    token
      .command("attenuate")
      .description("narrow a token offline (no key needed); the new hop gets its own id")
      .requiredOption("--token <token>", "token to narrow ('-' reads stdin)")
      .option("--agent <id>", "also require the caller to be this agent (a token is never handed to another agent)"),
  ).action(async (opts: CaveatFlags & { token: string; agent?: string }) => {
    const caveats: Caveat[] = caveatsFromFlags(opts, nowSeconds());
    if (opts.agent !== undefined) caveats.push({ type: "agent", id: opts.agent });
    if (caveats.length === 0) throw new CliError("attenuate needs at least one caveat flag (see --help)");
    const text = await readToken(opts.token);
    out.line(build(() => attenuateToken(text, caveats)));
  });

  token
    .command("verify")
    .description("verify a token; with --tool, also that it covers that call. Exit 0 only when valid (and covering)")
    .requiredOption("--keys <file>", "key file")
    .requiredOption("--token <token>", "token to verify ('-' reads stdin)")
    .option("--tool <server.tool>", "check coverage of this call")
    .option("--args <json>", "call arguments as a JSON object", "{}")
    .option("--agent <id>", "agent presenting the token (default: the agent it is bound to)")
    .option("--prompt <text>", "user prompt presented with the call")
    .option("--revocations <file>", "revocation list to check against")
    .option("--skew <seconds>", "allowed clock skew in seconds (at most 300)", "30")
    .action(async (opts: { keys: string; token: string; tool?: string; args: string; agent?: string; prompt?: string; revocations?: string; skew: string }) => {
      const { ring } = loadKeyFile(opts.keys);
      const skewSeconds = Number(opts.skew);
      if (!Number.isInteger(skewSeconds) || skewSeconds < 0 || skewSeconds > 300) throw new CliError("--skew must be 0-300 seconds");
      const revocations = opts.revocations === undefined ? undefined : loadRevocations(opts.revocations);
      const result = verifyToken(await readToken(opts.token), { keys: ring, now: nowSeconds(), skewSeconds, ...(revocations ? { revocations } : {}) });
      if (!result.ok) return refuse(out, result.code, result.message);
      const report = { valid: true, header: result.header, effective: result.effective };
      if (opts.tool === undefined) return out.json(report);
      const dot = opts.tool.indexOf(".");
      if (dot <= 0 || dot === opts.tool.length - 1) throw new CliError(`--tool: "${opts.tool}" is not server.tool`);
      let args: unknown;
      try {
        args = JSON.parse(opts.args);
      } catch {
        throw new CliError("--args is not valid JSON");
      }
      if (typeof args !== "object" || args === null || Array.isArray(args)) throw new CliError("--args must be a JSON object");
      const call = {
        server: opts.tool.slice(0, dot),
        tool: opts.tool.slice(dot + 1),
        arguments: args,
        agent: opts.agent ?? result.header.subject,
        ...(opts.prompt !== undefined ? { prompt: opts.prompt } : {}),
      };
      const coverage = checkCoverage(result.effective, call);
      if (!coverage.ok) return refuse(out, coverage.code, coverage.message);
      out.json({ ...report, covers: opts.tool });
    });

  token
    .command("inspect")
    .description("decode a token WITHOUT verifying it: shows header, caveats, hop ids and effective constraints")
    .argument("<token>", "token to decode ('-' reads stdin)")
    .action(async (text: string) => {
      const decoded = decodeToken(await readToken(text));
      if (!decoded.ok) throw new CliError(`${decoded.code}: ${decoded.message}`);
      const problems = decoded.token.caveats.map(caveatProblem).filter((p) => p !== undefined);
      out.json({
        verified: false,
        note: "decoded only: the signature, expiry and revocation were NOT checked",
        header: decoded.token.header,
        caveats: decoded.token.caveats,
        ...(problems.length > 0
          ? { invalid_caveats: problems }
          : { effective: foldCaveats(decoded.token.header, decoded.token.caveats as Caveat[]) }),
      });
    });

  token
    .command("revoke")
    .description("add a token's id, or one hop's id, to a revocation list file")
    .requiredOption("--revocations <file>", "revocation list (created if missing)")
    .option("--id <id...>", "token or hop ids to revoke")
    .option("--token <token>", "revoke this token's last hop (or its root with --root)")
    .option("--root", "with --token, revoke the root id: every token attenuated from it")
    .option("--reason <text>", "why")
    .action(async (opts: { revocations: string; id?: string[]; token?: string; root?: boolean; reason?: string }) => {
      const ids = [...(opts.id ?? [])];
      if (opts.token !== undefined) {
        const text = await readToken(opts.token);
        const all = (() => {
          try {
            return revocationIds(text);
          } catch (error) {
            if (error instanceof TokenBuildError) throw new CliError(`${error.code}: ${error.message}`);
            throw error;
          }
        })();
        ids.push((opts.root ? all[0] : all[all.length - 1]) as string);
      }
      if (ids.length === 0) throw new CliError("revoke needs --id or --token");
      let file: RevocationFile = { version: 1, revoked: [] };
      try {
        file = parseRevocationFile(JSON.parse(readFileSync(opts.revocations, "utf8")));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new CliError(`${opts.revocations}: ${(error as Error).message}`);
      }
      const at = new Date().toISOString();
      for (const id of ids) {
        if (!/^[A-Za-z0-9_-]{8,64}$/.test(id)) throw new CliError(`"${id}" is not a token or hop id`);
        if (!file.revoked.some((e) => e.id === id)) file.revoked.push({ id, revoked_at: at, ...(opts.reason ? { reason: opts.reason } : {}) });
      }
      writeSecretFile(opts.revocations, `${JSON.stringify(file, null, 2)}\n`, false);
      out.json({ file: opts.revocations, revoked: ids });
    });

  return token;
}

function refuse(out: Output, code: string, message: string): void {
  out.json({ valid: false, code, reason: message });
  out.error(`intentgate: refused: ${code}: ${message}`);
  process.exitCode = EXIT.refused;
}
