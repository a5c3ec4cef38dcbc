// The published shape: esbuild's ESM and CJS bundles and tsc's declarations, built into dist/. Both
// bundles pass the vectors on this Node and on the machine's older system Node (no type stripping
// there), and a strict TypeScript consumer compiles against the declarations from ESM and CJS.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { buildSdk } from "../build.ts";

const HERE = new URL(".", import.meta.url).pathname;
const SDK = new URL("..", import.meta.url).pathname;
const TSC = new URL("../../../node_modules/typescript/bin/tsc", import.meta.url).pathname;

/** Every `node` on PATH and in /usr/bin other than this one, with its major version. */
function otherNodes(): { path: string; major: number }[] {
  const found = new Map<string, number>();
  for (const dir of [...(process.env["PATH"] ?? "").split(":"), "/usr/bin", "/usr/local/bin"]) {
    const path = join(dir, "node");
    const r = spawnSync(path, ["-p", "process.versions.node"], { encoding: "utf8" });
    if (r.status !== 0) continue;
    const major = Number(r.stdout.trim().split(".")[0]);
    if (major !== Number(process.versions.node.split(".")[0])) found.set(path, major);
  }
  return [...found].map(([path, major]) => ({ path, major }));
}

const compat = (node: string, format: "esm" | "cjs"): { ok: boolean; checks: number; node: string } => {
  const out = execFileSync(node, [join(HERE, "node-compat.js"), format], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
};

before(async () => {
  await buildSdk();
});

for (const format of ["esm", "cjs"] as const) {
  void test(`dist ${format}: the bundle loads and passes the vectors on Node ${process.versions.node}`, () => {
    const result = compat(process.execPath, format);
    assert.equal(result.ok, true);
    assert.ok(result.checks > 50);
  });
}

void test("dist: both bundles pass the vectors on the system's older Node (>= 18, run as plain JavaScript)", (t) => {
  const nodes = otherNodes().filter((n) => n.major >= 18 && n.major < 22);
  if (nodes.length === 0) {
    t.skip("no Node 18-21 on this machine");
    return;
  }
  for (const node of nodes) {
    for (const format of ["esm", "cjs"] as const) {
      const result = compat(node.path, format);
      assert.equal(result.ok, true, `${node.path} ${format}`);
      assert.equal(Number(result.node.split(".")[0]), node.major);
    }
  }
});

void test("dist: a strict TypeScript consumer compiles against the declarations, from ESM and from CJS", () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-sdk-consumer-"));
  mkdirSync(join(dir, "node_modules", "@intentgate"), { recursive: true });
  symlinkSync(SDK, join(dir, "node_modules", "@intentgate", "sdk"));
  const body = `
const keys = TokenKeys.fromFile({ version: 1, active: "k1", keys: [] });
const caveats: Caveat[] = [{ type: "tools", allow: ["files.read_file"] }];
export async function run(): Promise<string> {
  const token = await mintToken(keys, { tenant: "acme", subject: "agent-1", issuedAt: 0, caveats });
  const options: SidecarTransportOptions = sidecarTransportOptions(await bindPrompt(token, "hello"));
  const seen = inspectToken(token);
  return seen.ok ? seen.header.tenant + String(options.requestInit?.headers["authorization"]) : seen.code;
}`;
  writeFileSync(join(dir, "esm.mts"), `import { bindPrompt, inspectToken, mintToken, sidecarTransportOptions, TokenKeys, type Caveat, type SidecarTransportOptions } from "@intentgate/sdk";${body}`);
  writeFileSync(join(dir, "cjs.cts"), `import sdk = require("@intentgate/sdk");\nconst { bindPrompt, inspectToken, mintToken, sidecarTransportOptions, TokenKeys } = sdk;\ntype Caveat = sdk.Caveat;\ntype SidecarTransportOptions = sdk.SidecarTransportOptions;${body}`);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, exactOptionalPropertyTypes: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [], noEmit: true }, files: ["esm.mts", "cjs.cts"] }),
  );
  const r = spawnSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
