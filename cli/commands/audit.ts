// `intentgate audit …`: keys for the audit chain, and the auditor's tools.
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { AuditKeys } from "../../wire/audit/index.ts";
import { writeSecretFile } from "../files.ts";
import type { Output } from "../output.ts";

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
      const file = AuditKeys.generateFile(opts.keyId);
      writeSecretFile(opts.out, `${JSON.stringify(file, null, 2)}\n`, !opts.force);
      if (opts.publicOut !== undefined) writeFileSync(opts.publicOut, file.public_key, { mode: 0o644 });
      out.json({ file: opts.out, key_id: file.key_id, ...(opts.publicOut ? { public_key: opts.publicOut } : {}) });
    });

  return audit;
}
