// `intentgate memory …`: for trusted memory writers. Sign a memory entry when it is written, verify
// a presented item, and hand a writer a key file holding only its own key.
// Spec: docs/spec/memory-provenance.md.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import {
  KeyError,
  KeyRing,
  MemoryKeyError,
  parseDurationSeconds,
  ringWriterKeys,
  signMemoryItem,
  verifyMemoryItem,
  WriterKey,
  type MemoryKeyLookup,
} from "../../wire/index.ts";
import { CliError, EXIT } from "../errors.ts";
import { readJsonFile, writeSecretFile } from "../files.ts";
import type { Output } from "../output.ts";

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A key ring (master or tenant keys) or a writer key file: sign and verify accept either. */
type Keys = { kind: "ring"; ring: KeyRing } | { kind: "writer"; key: WriterKey };

function loadKeys(path: string): Keys {
  const value = readJsonFile(path, "key file");
  try {
    if ((value as { kind?: unknown } | null)?.kind !== undefined) return { kind: "writer", key: WriterKey.fromFile(value) };
    return { kind: "ring", ring: KeyRing.fromFile(value) };
  } catch (error) {
    if (error instanceof KeyError || error instanceof MemoryKeyError) throw new CliError(`key file ${path}: ${error.message}`);
    throw error;
  }
}

function writerKey(keys: Keys, path: string, tenant: string, writer: string, kid: string | undefined): WriterKey {
  try {
    if (keys.kind === "ring") return WriterKey.fromRing(keys.ring, tenant, writer, kid);
  } catch (error) {
    if (error instanceof KeyError || error instanceof MemoryKeyError) throw new CliError(`${error.code}: ${error.message}`);
    throw error;
  }
  const key = keys.key;
  if (key.tenant !== tenant || key.writer !== writer) throw new CliError(`${path} holds the key of writer "${key.writer}" of tenant "${key.tenant}", not "${writer}" of "${tenant}"`);
  if (kid !== undefined && kid !== key.kid) throw new CliError(`${path} holds key "${key.kid}", not "${kid}"`);
  if (!key.canSign) throw new CliError(`${path} holds a public key only: it cannot sign`);
  return key;
}

async function readText(value: string, what: string): Promise<string> {
  if (value !== "-") return value;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") throw new CliError(`${what}: standard input is empty`);
  return text;
}

function readContentFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read content file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function content(opts: { content?: string; contentFile?: string }, required: boolean): string | undefined {
  if (opts.content !== undefined && opts.contentFile !== undefined) throw new CliError("give --content or --content-file, not both");
  if (opts.content !== undefined) return opts.content;
  if (opts.contentFile !== undefined) return readContentFile(opts.contentFile);
  if (required) throw new CliError("sign needs --content or --content-file");
  return undefined;
}

export function memoryCommand(out: Output): Command {
  const memory = new Command("memory").description("sign and verify memory items (memory provenance) for trusted writers");

  memory
    .command("sign")
    .description("sign one memory entry as a trusted writer; prints the item to store beside the entry")
    .requiredOption("--keys <file>", "key ring (master or tenant keys) or the writer's own key file")
    .requiredOption("--tenant <tenant>", "tenant whose memory this is")
    .requiredOption("--writer <name>", "the writer signing (a name: A-Z a-z 0-9 . _ : @ / -)")
    .requiredOption("--id <id>", "the memory entry's id in its store")
    .option("--content <text>", "the entry's content (hashed; never stored in the item)")
    .option("--content-file <file>", "read the content from this file (exact bytes, UTF-8)")
    .option("--ttl <duration>", "expire after this long (90s, 15m, 1h, 7d)")
    .option("--kid <id>", "sign under this key id of the ring (default: the active one)")
    .option("--with-content", "also print the content in the item, as an agent presents it")
    .action((opts: { keys: string; tenant: string; writer: string; id: string; content?: string; contentFile?: string; ttl?: string; kid?: string; withContent?: boolean }) => {
      const text = content(opts, true) as string;
      const key = writerKey(loadKeys(opts.keys), opts.keys, opts.tenant, opts.writer, opts.kid);
      const now = nowSeconds();
      let expiresAt: number | undefined;
      if (opts.ttl !== undefined) {
        const ttl = parseDurationSeconds(opts.ttl);
        if (ttl === undefined) throw new CliError(`--ttl: "${opts.ttl}" is not a duration (90s, 15m, 1h, 7d)`);
        expiresAt = now + ttl;
      }
      let item;
      try {
        item = signMemoryItem(key, { id: opts.id, content: text, writtenAt: now, ...(expiresAt !== undefined ? { expiresAt } : {}) });
      } catch (error) {
        if (error instanceof TypeError) throw new CliError(error.message);
        throw error;
      }
      out.line(JSON.stringify(opts.withContent ? { ...item, content: text } : item));
    });

  memory
    .command("verify")
    .description("verify a memory item as the gateway does. Exit 0 only when it verifies")
    .requiredOption("--keys <file>", "key ring (master or tenant keys) or a writer key file (public part suffices)")
    .requiredOption("--item <json>", "the item as JSON ('-' reads stdin); with its content, or give --content")
    .option("--content <text>", "the content the item was presented with")
    .option("--content-file <file>", "read that content from this file")
    .option("--tenant <tenant>", "the tenant verifying (default: the item's own)")
    .option("--writer <name...>", "trusted writers (default: any writer of the tenant)")
    .option("--skew <seconds>", "allowed clock skew in seconds (at most 300)", "30")
    .action(async (opts: { keys: string; item: string; content?: string; contentFile?: string; tenant?: string; writer?: string[]; skew: string }) => {
      const keys = loadKeys(opts.keys);
      const skewSeconds = Number(opts.skew);
      if (!Number.isInteger(skewSeconds) || skewSeconds < 0 || skewSeconds > 300) throw new CliError("--skew must be 0-300 seconds");
      let item: unknown;
      try {
        item = JSON.parse(await readText(opts.item, "--item"));
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError("--item is not valid JSON");
      }
      if (typeof item !== "object" || item === null || Array.isArray(item)) throw new CliError("--item must be a JSON object");
      const given = content(opts, false);
      if (given !== undefined) item = { ...item, content: given };
      const claimed = (item as { tenant?: unknown }).tenant;
      const tenant = opts.tenant ?? (typeof claimed === "string" ? claimed : "");
      const lookup: MemoryKeyLookup = keys.kind === "ring" ? ringWriterKeys(keys.ring) : keys.key.lookup();
      const result = verifyMemoryItem(item, { tenant, now: nowSeconds(), skewSeconds, keys: lookup, ...(opts.writer ? { writers: opts.writer } : {}) });
      if (!result.ok) {
        out.json({ valid: false, id: result.id, code: result.code, reason: result.message });
        out.error(`intentgate: refused: ${result.code}: ${result.message}`);
        process.exitCode = EXIT.refused;
        return;
      }
      const i = item as { kid: string; written_at: number; expires_at?: number };
      out.json({ valid: true, id: result.id, tenant, writer: result.writer, kid: i.kid, written_at: i.written_at, expires_at: i.expires_at ?? null });
    });

  memory
    .command("writer-key")
    .description("write one writer's key file (0600): all that writer needs to sign, and nothing else")
    .requiredOption("--keys <file>", "key ring (master or tenant keys)")
    .requiredOption("--tenant <tenant>", "tenant")
    .requiredOption("--writer <name>", "writer")
    .requiredOption("--out <file>", "where to write the writer key file")
    .option("--kid <id>", "derive under this key id (default: the active one)")
    .option("--public", "write the public key only (for verifiers)")
    .option("--force", "replace an existing file")
    .action((opts: { keys: string; tenant: string; writer: string; out: string; kid?: string; public?: boolean; force?: boolean }) => {
      const keys = loadKeys(opts.keys);
      if (keys.kind !== "ring") throw new CliError(`${opts.keys} is a writer key file: writer-key derives from a key ring`);
      const key = writerKey(keys, opts.keys, opts.tenant, opts.writer, opts.kid);
      const file = key.toFile(!opts.public);
      writeSecretFile(opts.out, `${JSON.stringify(file, null, 2)}\n`, !opts.force);
      out.json({ file: opts.out, tenant: file.tenant, writer: file.writer, kid: file.kid, public_key: file.public_key, private: !opts.public });
    });

  return memory;
}
