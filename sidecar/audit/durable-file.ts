// Replacing a small file durably: write a temporary file, fsync it, rename it over the old one,
// fsync the folder. Afterwards the file is either the old one or the new one, even after a crash.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export function writeFileDurably(path: string, data: string | Buffer): void {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
