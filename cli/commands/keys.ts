// `intentgate keys …`: create, rotate, retire and derive the root keys that sign capability tokens.
import { Command } from "commander";
import { KeyError, KeyRing, newKeyId, newMasterEntry, type KeyFile } from "../../wire/index.ts";
import { CliError } from "../errors.ts";
import { readJsonFile, writeSecretFile } from "../files.ts";
import type { Output } from "../output.ts";

export function loadKeyFile(path: string): { file: KeyFile; ring: KeyRing } {
  const file = readJsonFile(path, "key file");
  try {
    return { file: file as KeyFile, ring: KeyRing.fromFile(file) };
  } catch (error) {
    if (error instanceof KeyError) throw new CliError(`key file ${path}: ${error.message}`);
    throw error;
  }
}

const kidOption = (value: string): string => {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new CliError(`--kid: "${value}" must be 1-64 of A-Z a-z 0-9 . _ -`);
  return value;
};

export function keysCommand(out: Output): Command {
  const keys = new Command("keys").description("manage the root keys that sign capability tokens");

  keys
    .command("generate")
    .description("create a key file with one new master key (written 0600)")
    .requiredOption("--out <file>", "where to write the key file")
    .option("--kid <id>", "key id for the new key (default: dated and random)", kidOption)
    .option("--force", "replace an existing file")
    .action((opts: { out: string; kid?: string; force?: boolean }) => {
      const file = KeyRing.generateFile(opts.kid ?? newKeyId());
      writeSecretFile(opts.out, `${JSON.stringify(file, null, 2)}\n`, !opts.force);
      out.json({ file: opts.out, active: file.active, kids: [file.active] });
    });

  keys
    .command("rotate")
    .description("add a new master key and make it active; older keys keep verifying until retired")
    .requiredOption("--keys <file>", "key file to update")
    .option("--kid <id>", "key id for the new key", kidOption)
    .action((opts: { keys: string; kid?: string }) => {
      const { file } = loadKeyFile(opts.keys);
      if (file.keys.some((k) => k.scope === "tenant")) {
        throw new CliError(`${opts.keys} holds tenant keys: rotate the master key file, then run keys derive again`);
      }
      const kid = opts.kid ?? newKeyId();
      if (file.keys.some((k) => k.kid === kid)) throw new CliError(`key id "${kid}" is already in ${opts.keys}`);
      const next: KeyFile = { ...file, active: kid, keys: [...file.keys, newMasterEntry(kid)] };
      KeyRing.fromFile(next);
      writeSecretFile(opts.keys, `${JSON.stringify(next, null, 2)}\n`, false);
      out.json({ file: opts.keys, active: kid, kids: next.keys.map((k) => k.kid) });
    });

  keys
    .command("retire")
    .description("remove a key that is no longer active: tokens signed with it stop verifying")
    .requiredOption("--keys <file>", "key file to update")
    .requiredOption("--kid <id>", "key id to remove", kidOption)
    .action((opts: { keys: string; kid: string }) => {
      const { file } = loadKeyFile(opts.keys);
      if (file.active === opts.kid) throw new CliError(`"${opts.kid}" is the active key: rotate first`);
      if (!file.keys.some((k) => k.kid === opts.kid)) throw new CliError(`no key "${opts.kid}" in ${opts.keys}`);
      const next: KeyFile = { ...file, keys: file.keys.filter((k) => k.kid !== opts.kid) };
      writeSecretFile(opts.keys, `${JSON.stringify(next, null, 2)}\n`, false);
      out.json({ file: opts.keys, active: next.active, kids: next.keys.map((k) => k.kid) });
    });

  keys
    .command("derive")
    .description("write one tenant's derived keys (HKDF) to a file: all a sidecar for that tenant needs")
    .requiredOption("--keys <file>", "master key file")
    .requiredOption("--tenant <tenant>", "tenant to derive for")
    .requiredOption("--out <file>", "where to write the tenant key file")
    .option("--force", "replace an existing file")
    .action((opts: { keys: string; tenant: string; out: string; force?: boolean }) => {
      const { ring } = loadKeyFile(opts.keys);
      let derived: KeyFile;
      try {
        derived = ring.exportTenant(opts.tenant);
      } catch (error) {
        if (error instanceof KeyError) throw new CliError(error.message);
        throw error;
      }
      writeSecretFile(opts.out, `${JSON.stringify(derived, null, 2)}\n`, !opts.force);
      out.json({ file: opts.out, tenant: opts.tenant, active: derived.active, kids: derived.keys.map((k) => k.kid) });
    });

  keys
    .command("list")
    .description("show key ids and scopes (never the secrets)")
    .requiredOption("--keys <file>", "key file")
    .action((opts: { keys: string }) => {
      const { file } = loadKeyFile(opts.keys);
      out.json({
        active: file.active,
        keys: file.keys.map((k) => ({ kid: k.kid, scope: k.scope, ...(k.tenant ? { tenant: k.tenant } : {}), created_at: k.created_at })),
      });
    });

  return keys;
}
