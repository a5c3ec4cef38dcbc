// `intentgate audit …`: keys for the audit chain, and the auditor's tools (verify, export, tail).
import { createWriteStream, existsSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import { AuditKeys } from "../../wire/audit/index.ts";
import { exportCheckpoints, exportCsv, exportNdjson, Sink } from "../audit/export.ts";
import { parseFilters, type FilterFlags } from "../audit/filters.ts";
import { loadAuditorKeys } from "../audit/keys.ts";
import { openSource, type SourceFlags } from "../audit/open.ts";
import { tail } from "../audit/tail.ts";
import { terminalSafe } from "../audit/text.ts";
import { verifySource } from "../audit/verifier.ts";
import { CliError, EXIT } from "../errors.ts";
import { writeSecretFile } from "../files.ts";
import type { Output } from "../output.ts";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function sourceOptions(command: Command, withFile: boolean): Command {
  command
    .option("--database <url>", "PostgreSQL URL of the audit database (prefer --database-env: a URL on the command line is visible to other users)")
    .option("--database-env <name>", "environment variable holding the PostgreSQL URL")
    .option("--embedded <dir>", "a standalone sidecar's embedded audit database (PGlite folder; read it while that sidecar is stopped)")
    .option("--spool <dir>", "a sidecar's audit spool folder (repeatable)", collect);
  if (withFile) command.option("--file <export.ndjson>", "an NDJSON export (intentgate audit export)");
  return command;
}

function filterOptions(command: Command): Command {
  return command
    .option("--stream <name>", "only this stream (repeatable)", collect)
    .option("--from <iso>", "records at or after this time")
    .option("--to <iso>", "records before this time")
    .option("--tenant <tenant>", "records of this tenant")
    .option("--agent <agent>", "records of this agent")
    .option("--tool <server.tool>", "records of this tool (server.tool, or the tool name alone)")
    .option("--disposition <d>", "decisions that were allowed, blocked or escalated");
}

async function withSource<T>(flags: SourceFlags, allowFile: boolean, snapshot: boolean, body: (source: Awaited<ReturnType<typeof openSource>>) => Promise<T>): Promise<T> {
  const source = await openSource(flags, allowFile, snapshot);
  try {
    return await body(source);
  } finally {
    await source.close();
  }
}

export function auditCommand(out: Output): Command {
  const audit = new Command("audit").description("the tamper-evident audit log: keys, verification, export, live view");

  audit
    .command("keygen")
    .description("create a sidecar's audit key file (chain key + Ed25519 checkpoint key, written 0600) and its public key")
    .requiredOption("--out <file>", "where to write the audit key file")
    .option("--public-out <file>", "where to write the public key (PEM) auditors verify checkpoints with")
    .option("--key-id <id>", "key id recorded in each checkpoint")
    .option("--force", "replace an existing file")
    .action((opts: { out: string; publicOut?: string; keyId?: string; force?: boolean }) => {
      if (opts.keyId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(opts.keyId)) throw new CliError(`--key-id: "${opts.keyId}" must be 1-64 of A-Z a-z 0-9 . _ -`);
      const file = AuditKeys.generateFile(opts.keyId);
      if (opts.publicOut !== undefined && !opts.force && existsSync(opts.publicOut)) throw new CliError(`${opts.publicOut} already exists (use --force to replace it)`);
      writeSecretFile(opts.out, `${JSON.stringify(file, null, 2)}\n`, !opts.force);
      if (opts.publicOut !== undefined) writeFileSync(opts.publicOut, file.public_key, { mode: 0o644 });
      out.json({ file: opts.out, key_id: file.key_id, ...(opts.publicOut ? { public_key: opts.publicOut } : {}) });
    });

  sourceOptions(audit.command("verify"), true)
    .description("verify every stream: hashes, links, sequence, signed checkpoints, and MACs with --keys. Exit 0 all intact, 1 a break, 2 bad input")
    .option("--keys <file>", "audit key file: its chain key checks MACs (repeatable)", collect)
    .option("--public-key <pem>", "Ed25519 public key (PEM) that signed checkpoints (repeatable)", collect)
    .option("--checkpoints <file>", "checkpoints kept elsewhere (NDJSON lines, e.g. a copy of a spool's checkpoints.ndjson) to verify against too (repeatable)", collect)
    .option("--stream <name>", "only this stream (repeatable)", collect)
    .action(async (opts: SourceFlags & { keys?: string[]; publicKey?: string[]; checkpoints?: string[]; stream?: string[] }) => {
      const keys = loadAuditorKeys(opts.keys ?? [], opts.publicKey ?? []);
      const options = opts.stream === undefined ? {} : { streams: new Set(opts.stream) };
      const results = await withSource(opts, true, true, (source) => verifySource(source, keys, options, opts.checkpoints ?? []));
      const macChecked = keys.chain.length > 0;
      const ok = results.every((r) => r.ok);
      const notes = [
        macChecked
          ? "MACs were checked with the chain key: a record that verifies was written by a holder of that key"
          : "MACs were NOT checked (no --keys): hashes, links, sequence and signed checkpoints were; records after a stream's last checkpoint could have been forged by anyone with write access",
        ...(keys.labelled.size + keys.unlabelled.length === 0 ? ["no public key given (--public-key or --keys): checkpoints cannot be verified, any stream that has one is reported"] : []),
        ...results
          .filter((r) => r.start.from === "unanchored")
          .map((r) => `${r.stream}: records before seq ${r.start.seq} were shipped from this spool and are not here; nothing anchors its first record (verify the database for them)`),
      ];
      out.json({ ok, mac_checked: macChecked, streams_checked: results.length, notes, streams: results });
      for (const r of results) {
        if (r.break !== null) out.error(terminalSafe(`intentgate: audit break: stream ${r.stream} seq ${r.break.seq}: ${r.break.kind}: ${r.break.detail}`));
      }
      if (results.length === 0) out.error("intentgate: warning: the source holds no audit streams");
      if (!ok) process.exitCode = EXIT.refused;
    });

  filterOptions(sourceOptions(audit.command("export"), false))
    .description("export records: NDJSON (exact lines + checkpoints, verifiable offline; filtered exports carry whole checkpoint-to-checkpoint ranges) or CSV (matching records only)")
    .addOption(new Option("--format <format>", "ndjson or csv").choices(["ndjson", "csv"]).default("ndjson"))
    .option("--checkpoints-only", "NDJSON of every signed checkpoint only: keep it where the database's admins cannot write, verify against it with verify --checkpoints")
    .option("--out <file>", "write here instead of standard output")
    .action(async (opts: SourceFlags & FilterFlags & { format: "ndjson" | "csv"; out?: string; checkpointsOnly?: boolean }) => {
      const filter = parseFilters(opts);
      if (opts.checkpointsOnly === true && (filter.active || opts.format !== "ndjson")) throw new CliError("--checkpoints-only takes no record filters and writes NDJSON");
      const run = opts.checkpointsOnly === true ? exportCheckpoints : opts.format === "csv" ? exportCsv : exportNdjson;
      const target: Writable = opts.out === undefined ? process.stdout : createWriteStream(opts.out, { mode: 0o600 });
      const sink = new Sink(target);
      if (opts.out !== undefined) await once(target, "open").catch((error: NodeJS.ErrnoException) => {
        throw new CliError(`cannot write ${opts.out}: ${error.code ?? error.message}`);
      });
      let summary;
      try {
        summary = await withSource(opts, false, true, (source) => run(source, filter, sink));
        if (opts.out !== undefined) await new Promise<void>((resolve, reject) => target.end((error?: Error | null) => (error ? reject(error) : resolve())));
      } catch (error) {
        const code = (sink.error as NodeJS.ErrnoException | undefined)?.code;
        if (code === "EPIPE") return; // the reader went away (| head): not an error
        if (sink.error !== undefined) throw new CliError(`export not complete: cannot write ${opts.out ?? "standard output"}: ${code ?? sink.error.message}`);
        throw error;
      }
      out.error(`intentgate: exported ${JSON.stringify({ ...summary, filters: filter.described, ...(opts.out ? { out: opts.out } : {}) })}`);
    });

  filterOptions(sourceOptions(audit.command("tail"), false))
    .description("show the newest records, one terminal-safe line each; --follow keeps printing new ones (a view: it does not verify)")
    .option("-n, --lines <n>", "how many of the newest records to show first", "20")
    .option("-f, --follow", "keep polling for new records")
    .option("--interval <ms>", "poll interval with --follow", "1000")
    .action(async (opts: SourceFlags & FilterFlags & { lines: string; follow?: boolean; interval: string }) => {
      const lines = Number(opts.lines);
      const intervalMs = Number(opts.interval);
      if (!Number.isInteger(lines) || lines < 0 || lines > 100_000) throw new CliError("--lines must be an integer 0-100000");
      if (!Number.isInteger(intervalMs) || intervalMs < 50 || intervalMs > 3_600_000) throw new CliError("--interval must be 50-3600000 ms");
      const filter = parseFilters(opts);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
      try {
        await withSource(opts, false, false, (source) => tail(source, filter, { lines, follow: opts.follow === true, intervalMs, print: (l) => out.line(l), signal: stop.signal }));
      } finally {
        process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
      }
    });

  return audit;
}
