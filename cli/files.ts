// File helpers for the CLI: readable errors, and secrets written 0600 through an atomic rename.
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CliError } from "./errors.ts";

export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${what} ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (error as Error).message)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} ${path} is not valid JSON`);
  }
}

/** Writes a file readable by its owner only; `exclusive` refuses to replace an existing file. */
export function writeSecretFile(path: string, text: string, exclusive: boolean): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, "wx", 0o600);
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o600);
  if (!exclusive) {
    renameSync(temp, path);
    return;
  }
  try {
    linkSync(temp, path); // atomic, and fails if the name exists
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === "EEXIST" ? `${path} already exists (use --force to replace it)` : `cannot write ${path}: ${code}`);
  } finally {
    unlinkSync(temp);
  }
}
