// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self and inclusive time per function, and
// self time per source file, so the hot path can be read without a browser.
//   node bench/cpuprofile.ts <file.cpuprofile> [top=30]
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time outside (idle) and garbage collection, as V8 reports them. */
  idleMs: number;
  gcMs: number;
  self: ProfileRow[];
  inclusive: ProfileRow[];
  files: ProfileRow[];
}

function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const at = url.lastIndexOf("/node_modules/");
  if (at >= 0) return url.slice(at + "/node_modules/".length);
  const main = url.indexOf("/main/");
  if (main >= 0) return url.slice(main + "/main/".length);
  return url.replace(/^file:\/\//, "");
}

const label = (f: CallFrame): string => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ""}`;

export function summarise(profile: CpuProfile, top = 30): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const node = byId.get(id);
    if (node === undefined) return;
    const name = node.callFrame.functionName;
    if (name === "(idle)") return void (idle += dt);
    if (name === "(garbage collector)") gc += dt;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const file = node.callFrame.url === "" ? `(native) ${name}` : shortUrl(node.callFrame.url);
    files.set(file, (files.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) break;
      const k = label(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: ms / busy }));
  return { totalMs: total, idleMs: idle, gcMs: gc, self: rows(self), inclusive: rows(inclusive), files: rows(files) };
}

/**
 * Inclusive time per group: a sample counts once for a group when any frame on its stack matches
 * one of the group's patterns (substrings of "function file:line"), however deep or recursive.
 */
export function groupTimes(profile: CpuProfile, groups: ReadonlyArray<readonly [string, readonly string[]]>): Array<{ name: string; ms: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, boolean[]>(); // node id -> which groups its stack matches
  const matches = (id: number): boolean[] => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const up = parent.get(id);
    const inherited = up === undefined ? groups.map(() => false) : matches(up);
    const text = node === undefined ? "" : label(node.callFrame);
    const own = groups.map(([, patterns], i) => (inherited[i] as boolean) || patterns.some((p) => text.includes(p)));
    memo.set(id, own);
    return own;
  };
  const totals = groups.map(() => 0);
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    matches(id).forEach((hit, g) => {
      if (hit) totals[g] = (totals[g] as number) + dt;
    });
  });
  return groups.map(([name], i) => ({ name, ms: totals[i] as number }));
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const table = (title: string, rows: ProfileRow[]): string =>
    [`| ${title} | ms | share of busy time |`, "|---|---:|---:|", ...rows.map((r) => `| \`${r.name}\` | ${r.ms.toFixed(0)} | ${pct(r.share)} |`)].join("\n");
  return [
    `profile: ${(s.totalMs / 1000).toFixed(1)} s, busy ${((s.totalMs - s.idleMs) / 1000).toFixed(1)} s, GC ${pct(s.gcMs / (s.totalMs - s.idleMs))} of busy`,
    "",
    table("self time, by function", s.self),
    "",
    table("inclusive time, by function", s.inclusive),
    "",
    table("self time, by file", s.files),
  ].join("\n");
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write("usage: node bench/cpuprofile.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  process.stdout.write(`${formatSummary(summarise(profile, Number(process.argv[3] ?? 30)))}\n`);
}
