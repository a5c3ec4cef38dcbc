// Runs the real `intentgate` CLI (node cli/main.ts) as a child process in a given folder.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

export function cliIn(dir: string): { cli(args: string[], input?: string): Run; ok(args: string[], input?: string): string } {
  const cli = (args: string[], input?: string): Run => {
    const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: dir, encoding: "utf8", input, env: { ...process.env, INTENTGATE_DEBUG: "" } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (args: string[], input?: string): string => {
    const r = cli(args, input);
    assert.equal(r.status, 0, `intentgate ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  return { cli, ok };
}
