#!/usr/bin/env node
// The `intentgate` command: one CLI with a subcommand per area.
import { Command, CommanderError } from "commander";
import { CliError, EXIT } from "./errors.ts";
import { processOutput, type Output } from "./output.ts";
import { auditCommand } from "./commands/audit.ts";
import { controllerCommand } from "./commands/controller.ts";
import { keysCommand } from "./commands/keys.ts";
import { memoryCommand } from "./commands/memory.ts";
import { sidecarCommand } from "./commands/sidecar.ts";
import { tokenCommand } from "./commands/token.ts";
import { toolsCommand } from "./commands/tools.ts";

export const VERSION = "0.1.0";

// Usage errors are one line, like every other error (commander's own spans two or three).
const OUTPUT = {
  writeOut: (s: string) => process.stdout.write(s),
  writeErr: (s: string) => process.stderr.write(s),
  outputError: (s: string, write: (s: string) => void) =>
    write(`intentgate: ${s.trim().replace(/\s*\n\s*/g, " ")} (add --help for usage)\n`),
};

export function buildProgram(out: Output): Command {
  const program = new Command("intentgate")
    .description("IntentGate: authorization for AI agents' tool calls (capability tokens, intent, policy, budgets, audit)")
    .version(VERSION)
    .exitOverride()
    .configureOutput(OUTPUT);
  for (const command of [keysCommand(out), tokenCommand(out), sidecarCommand(), controllerCommand(), auditCommand(out), memoryCommand(out), toolsCommand(out)]) program.addCommand(command);
  // addCommand() does not pass settings down, so every subcommand gets them here.
  const strict = (command: Command): void => {
    command.exitOverride().configureOutput(OUTPUT);
    command.commands.forEach(strict);
  };
  program.commands.forEach(strict);
  return program;
}

export async function runCli(argv: readonly string[], out: Output = processOutput): Promise<number> {
  try {
    await buildProgram(out).parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      out.error(`intentgate: error: ${error.message}`);
      return error.exitCode;
    }
    out.error(`intentgate: internal error: ${(error as Error).message ?? String(error)}`);
    if (process.env["INTENTGATE_DEBUG"]) out.error(String((error as Error).stack));
    return EXIT.internal;
  }
}

if (import.meta.main) {
  process.exitCode = await runCli(process.argv.slice(2));
}
