// Errors the CLI reports as one clear line (never a stack trace) with a stable exit code.

export const EXIT = { ok: 0, refused: 1, usage: 2, internal: 70 } as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.exitCode = exitCode;
  }
}
