// Caveat flags shared by `token mint` and `token attenuate`, turned into caveats in one place.
import type { Command } from "commander";
import { ARG_OPS, parseDurationSeconds, promptSha256, type ArgOp, type Caveat } from "../wire/index.ts";
import { CliError } from "./errors.ts";

export interface CaveatFlags {
  tools?: string[];
  denyTools?: string[];
  servers?: string[];
  ttl?: string;
  notBefore?: string;
  arg?: string[];
  argTools?: string[];
  prompt?: string;
  promptSha256?: string;
  maxCalls?: string;
  rate?: string;
  cost?: string;
  stepUp?: boolean;
}

export function addCaveatFlags(command: Command): Command {
  return command
    .option("--tools <glob...>", "allow only these server.tool globs (e.g. fs.read_* 'billing.*')")
    .option("--deny-tools <glob...>", "deny these server.tool globs")
    .option("--servers <name...>", "allow only these upstream servers")
    .option("--ttl <duration>", "expire after this long (90s, 15m, 1h, 7d)")
    .option("--not-before <time>", "not valid before this time (ISO 8601 or unix seconds)")
    .option("--arg <constraint...>", "argument constraint 'PATH OP JSON', e.g. 'amount le 1000', '/to in [\"a\",\"b\"]', 'path under /data'")
    .option("--arg-tools <glob...>", "apply the --arg constraints only to calls of these server.tool globs")
    .option("--prompt <text>", "bind to this user prompt (stores its SHA-256)")
    .option("--prompt-sha256 <hex>", "bind to a prompt by its SHA-256")
    .option("--max-calls <n>", "at most n calls with this token")
    .option("--rate <n/window>", "at most n calls per sliding window, e.g. 100/1h")
    .option("--cost <n/window>", "at most n cost units per sliding window, e.g. 50/1d")
    .option("--step-up", "require step-up authentication for every call");
}

const SYMBOLS: Record<string, ArgOp> = { "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge" };

export function caveatsFromFlags(flags: CaveatFlags, now: number): Caveat[] {
  const caveats: Caveat[] = [];
  if (flags.tools) caveats.push({ type: "tools", allow: flags.tools });
  if (flags.denyTools) caveats.push({ type: "tools_deny", deny: flags.denyTools });
  if (flags.servers) caveats.push({ type: "servers", allow: flags.servers });
  if (flags.ttl !== undefined) caveats.push({ type: "expires", at: now + duration(flags.ttl, "--ttl") });
  if (flags.notBefore !== undefined) caveats.push({ type: "not_before", at: parseTime(flags.notBefore) });
  if (flags.argTools && !flags.arg) throw new CliError("--arg-tools scopes --arg constraints: give at least one --arg");
  for (const text of flags.arg ?? []) {
    const caveat = parseArg(text);
    caveats.push(flags.argTools ? { ...caveat, tools: flags.argTools } : caveat);
  }
  if (flags.prompt !== undefined) caveats.push({ type: "prompt", sha256: promptSha256(flags.prompt) });
  if (flags.promptSha256 !== undefined) caveats.push({ type: "prompt", sha256: flags.promptSha256.toLowerCase() });
  if (flags.maxCalls !== undefined) caveats.push({ type: "calls", max: count(flags.maxCalls, "--max-calls") });
  if (flags.rate !== undefined) {
    const { max, window } = perWindow(flags.rate, "--rate");
    caveats.push({ type: "rate", max: count(max, "--rate"), window });
  }
  if (flags.cost !== undefined) {
    const { max, window } = perWindow(flags.cost, "--cost");
    const amount = Number(max);
    if (!Number.isFinite(amount) || amount < 0) throw new CliError(`--cost: "${max}" is not a non-negative number`);
    caveats.push({ type: "cost", max: amount, window });
  }
  if (flags.stepUp) caveats.push({ type: "step_up" });
  return caveats;
}

function duration(text: string, flag: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) throw new CliError(`${flag}: "${text}" is not a duration like 90s, 15m, 1h or 7d`);
  return seconds;
}

function count(text: string, flag: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new CliError(`${flag}: "${text}" is not a whole number`);
  return Number(text);
}

function perWindow(text: string, flag: string): { max: string; window: number } {
  const [max, window, extra] = text.split("/");
  if (max === undefined || window === undefined || extra !== undefined) throw new CliError(`${flag}: expected n/window, e.g. 100/1h`);
  return { max, window: duration(window, flag) };
}

function parseTime(text: string): number {
  if (/^\d{1,12}$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new CliError(`--not-before: "${text}" is not an ISO 8601 time or unix seconds`);
  return Math.floor(ms / 1000);
}

function parseArg(text: string): Caveat & { type: "arg" } {
  const match = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/s.exec(text);
  if (match === null) throw new CliError(`--arg: "${text}" is not 'PATH OP VALUE'`);
  const [, rawPath = "", rawOp = "", rawValue = ""] = match;
  const op = SYMBOLS[rawOp] ?? rawOp;
  if (!ARG_OPS.includes(op as ArgOp)) throw new CliError(`--arg: operator "${rawOp}" is not one of ${ARG_OPS.join(", ")}`);
  const path = rawPath.startsWith("/") ? rawPath : `/${rawPath.replaceAll("~", "~0").replaceAll("/", "~1")}`;
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    value = rawValue; // a bare word is a string: `to eq alice`
  }
  return { type: "arg", path, op: op as ArgOp, value };
}
