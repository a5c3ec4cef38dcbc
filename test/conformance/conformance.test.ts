// The official MCP conformance suite (@modelcontextprotocol/conformance), every server scenario, run
// against an SDK server directly and then through the sidecar: the direct run must fail exactly the
// scenarios in expected-failures.yml, and the run through the sidecar must give the same status for
// every check of every scenario. Each run has its own everything server, so the tool calls that
// reached the server can be compared too: a call the sidecar refused would still look like a tool
// result to some scenarios, so the test also requires that the sidecar allowed and forwarded each one.
//
// The suite's client must present a capability token through the sidecar. Its CLI has no option
// or environment variable for extra headers, so present-token.ts is preloaded into the suite's
// process and adds `Authorization: Bearer <token>` to its fetch calls, as an agent's HTTP client
// would. It is preloaded for both runs, so the two clients are identical. The sidecar runs with its
// defaults (every check on, the default policy, tools/list filtered by the token).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startEverythingServer, type EverythingServer } from "./everything-server.ts";

const HERE = dirname(new URL(import.meta.url).pathname);
const PRELOAD = join(HERE, "present-token.ts");
const EXPECTED_FAILURES = join(HERE, "expected-failures.yml");
const RUN_TIMEOUT_MS = 120_000;

const require = createRequire(import.meta.url);
const PACKAGE_JSON = require.resolve("@modelcontextprotocol/conformance/package.json");
const CLI = join(dirname(PACKAGE_JSON), (JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { bin: { conformance: string } }).bin.conformance);

type Status = "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
interface Check {
  id: string;
  name: string;
  status: Status;
  errorMessage?: string;
}
interface SuiteRun {
  exitCode: number | null;
  output: string;
  /** Scenario name -> its checks, in the order the suite recorded them. */
  scenarios: Map<string, Check[]>;
}

function runCli(args: string[], token: string, logFile: string): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", PRELOAD, CLI, ...args], {
      env: { ...process.env, INTENTGATE_CONFORMANCE_TOKEN: token, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      writeFileSync(logFile, output);
      if (signal === "SIGKILL") reject(new Error(`conformance ${args[0]} did not finish within ${RUN_TIMEOUT_MS} ms; output in ${logFile}`));
      else resolve({ exitCode, output });
    });
  });
}

/** The server scenarios the installed suite knows, from `conformance list --server`. */
async function listServerScenarios(token: string, dir: string): Promise<string[]> {
  const { exitCode, output } = await runCli(["list", "--server"], token, join(dir, "list.log"));
  assert.equal(exitCode, 0, output);
  const names = [...output.matchAll(/^\s+- (\S+)(?: \[[^\]]*\])?\s*$/gm)].map((m) => m[1] as string);
  assert.ok(names.length >= 30, `expected the suite to list its ~32 server scenarios, got ${names.length}:\n${output}`);
  return names;
}

/** Runs every server scenario (`--suite all`, pending ones included) and reads each scenario's checks.json. */
async function runSuite(url: string, token: string, dir: string): Promise<SuiteRun> {
  const out = join(dir, "results");
  const { exitCode, output } = await runCli(["server", "--url", url, "--suite", "all", "--expected-failures", EXPECTED_FAILURES, "-o", out], token, join(dir, "suite.log"));
  const scenarios = new Map<string, Check[]>();
  for (const entry of readdirSync(out, { withFileTypes: true })) {
    // The suite names each result folder server-<scenario>-<ISO time with : and . replaced by ->.
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry.name);
    assert.ok(entry.isDirectory() && m !== null, `unexpected entry ${entry.name} in ${out}`);
    const scenario = m[1] as string;
    assert.ok(!scenarios.has(scenario), `two result folders for ${scenario}`);
    const checks = JSON.parse(readFileSync(join(out, entry.name, "checks.json"), "utf8")) as unknown;
    assert.ok(Array.isArray(checks), `${entry.name}/checks.json is not an array`);
    for (const c of checks as Check[]) assert.ok(typeof c.id === "string" && typeof c.status === "string", `malformed check in ${entry.name}: ${JSON.stringify(c)}`);
    scenarios.set(scenario, checks as Check[]);
  }
  return { exitCode, output, scenarios };
}

/** A scenario fails, as the suite's baseline logic counts it, when any check is a FAILURE or a WARNING. */
const failing = (run: SuiteRun): string[] =>
  [...run.scenarios].filter(([, checks]) => checks.some((c) => c.status === "FAILURE" || c.status === "WARNING")).map(([name]) => name).sort();

/** What is compared per scenario: each check's id, name and status, in order (INFO records included). */
const outcome = (checks: Check[]): string[] => checks.map((c) => `${c.id} ${c.name} ${c.status}`);

const describeFailures = (run: SuiteRun): string =>
  [...run.scenarios]
    .flatMap(([name, checks]) => checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING").map((c) => `${name}: ${c.id} ${c.status} ${c.errorMessage ?? ""}`))
    .join("\n");

describe("the official MCP conformance suite, server scenarios, direct and through the sidecar", () => {
  const work = mkdtempSync(join(tmpdir(), "intentgate-conformance-"));
  let directServer: EverythingServer;
  let proxiedServer: EverythingServer;
  let gw: Gateway;
  let scenarios: string[];
  let direct: SuiteRun;
  let proxied: SuiteRun;
  const expectedFailures = ((parseYaml(readFileSync(EXPECTED_FAILURES, "utf8")) as { server?: string[] }).server ?? []).slice().sort();

  before(async () => {
    directServer = await startEverythingServer();
    proxiedServer = await startEverythingServer();
    gw = await startGateway({ policy: "default", upstreamUrl: proxiedServer.url });
    const token = gw.mint([{ type: "tools", allow: ["files.*"] }]);
    scenarios = await listServerScenarios(token, work);
    direct = await runSuite(directServer.url, token, join(work, "direct"));
    proxied = await runSuite(`${gw.sidecar.url}/mcp/files`, token, join(work, "sidecar"));
  });

  after(async () => {
    await gw?.close();
    await directServer?.close();
    await proxiedServer?.close();
    if (process.env["INTENTGATE_KEEP_CONFORMANCE"] === undefined) rmSync(work, { recursive: true, force: true });
  });

  test("both runs cover every server scenario the suite lists", () => {
    assert.deepEqual([...direct.scenarios.keys()].sort(), scenarios.slice().sort());
    assert.deepEqual([...proxied.scenarios.keys()].sort(), scenarios.slice().sort());
    for (const [name, checks] of direct.scenarios) {
      assert.ok(checks.some((c) => c.status !== "INFO"), `${name} recorded no verdict directly`);
    }
  });

  test("directly, the SDK server fails exactly the scenarios in expected-failures.yml", () => {
    assert.deepEqual(failing(direct), expectedFailures, describeFailures(direct));
    assert.equal(direct.exitCode, 0, `the suite's own baseline check failed:\n${direct.output.slice(-4000)}`);
  });

  test("through the sidecar every check of every scenario has the same status as directly", () => {
    for (const name of scenarios) {
      assert.deepEqual(outcome(proxied.scenarios.get(name) ?? []), outcome(direct.scenarios.get(name) ?? []), `scenario ${name} differs through the sidecar`);
    }
    assert.equal(proxied.exitCode, 0, `the suite's own baseline check failed through the sidecar:\n${proxied.output.slice(-4000)}`);
  });

  test("every tool call of the suite was allowed by the sidecar and reached the server, as directly", () => {
    assert.ok(directServer.calls.length >= 10, `the suite made only ${directServer.calls.length} tool calls`);
    assert.deepEqual(proxiedServer.calls.slice().sort(), directServer.calls.slice().sort());
    const decisions = gw.auditRecords().filter((r) => r.kind === "decision");
    assert.deepEqual(
      decisions.map((d) => `${d.tool} ${d.kind === "decision" ? d.disposition : ""}`).sort(),
      proxiedServer.calls.map((t) => `${t} allowed`).sort(),
    );
  });
});
