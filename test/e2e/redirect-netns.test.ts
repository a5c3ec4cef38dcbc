// Redirect interception for real: in a fresh network namespace, a real MCP server (official SDK) on
// 10.77.0.10:8080, the sidecar as uid 1337 in front of it, and the rules of
// images/redirect/intentgate-redirect.sh applied with the real iptables. An MCP client (official SDK)
// that knows nothing of the sidecar connects to http://10.77.0.10:8080/mcp: before the rules its
// calls reach the server directly; after them every call lands in the sidecar, which decides and
// records it, refuses what the token does not cover, and forwards the rest (its own connection to
// the server is excluded by uid). Traffic to an undeclared port of the same address is untouched.
// Needs root, `ip` and iptables (scripts/toolchain.sh ensure_iptables); without them it fails.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSpool, ROOT } from "../support/gateway.ts";
import { KeyRing, mintToken } from "../../wire/index.ts";
import { AuditKeys } from "../../wire/audit/index.ts";

const NS = `igtest-${randomBytes(3).toString("hex")}`;
const SERVER_IP = "10.77.0.10";
const PROXY_UID = 1337;

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}${r.error?.message ?? ""}`);
  return r.stdout;
}

/** Starts a process in the namespace and resolves once `ready` appears in its output. */
function startIn(args: string[], ready: string, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn("ip", ["netns", "exec", NS, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 20 s: ${args.join(" ")}\n${output}`)), 20_000);
    const look = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ready: ${args.join(" ")}\n${output}`));
    });
  });
}

/** The official SDK client inside the namespace, as root (not the proxy's uid): lists tools and calls each named one. */
function runClient(url: string, token: string, calls: Array<{ name: string; arguments: Record<string, unknown> }>): Array<{ name: string; isError: boolean; text: string }> {
  const code = `
    import { Client } from "@modelcontextprotocol/sdk/client/index.js";
    import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
    const [url, token, calls] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
    const client = new Client({ name: "netns-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: "Bearer " + token } } } : {}));
    const out = [];
    for (const call of calls) {
      const r = await client.callTool(call);
      out.push({ name: call.name, isError: r.isError === true, text: r.content.map((c) => c.text).join("") });
    }
    await client.close();
    console.log(JSON.stringify(out));`;
  const stdout = sh("ip", ["netns", "exec", NS, process.execPath, "--input-type=module", "-e", code, url, token, JSON.stringify(calls)]);
  return JSON.parse(stdout.trim().split("\n").pop() as string) as Array<{ name: string; isError: boolean; text: string }>;
}

function fetchIn(url: string): string {
  return sh("ip", ["netns", "exec", NS, process.execPath, "-e", `fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(e); process.exit(1); })`, url]);
}

describe("redirect interception in a network namespace", () => {
  const children: ChildProcess[] = [];
  let dir: string;
  let token: string;
  let sidecarLogs: () => string;

  before(async () => {
    assert.equal(process.getuid?.(), 0, "this test needs root (network namespaces, iptables)");
    sh("iptables", ["--version"]);
    sh("ip", ["netns", "add", NS]);
    sh("ip", ["netns", "exec", NS, "ip", "link", "set", "lo", "up"]);
    // The server's address on the namespace's own loopback interface: this kernel has no dummy
    // links, and the rules only see the destination address and port.
    sh("ip", ["netns", "exec", NS, "ip", "addr", "add", `${SERVER_IP}/32`, "dev", "lo"]);

    dir = mkdtempSync(join(tmpdir(), "intentgate-netns-"));
    chmodSync(dir, 0o755);
    const keyFile = KeyRing.generateFile("k1");
    writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o644 });
    writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("audit-netns")), { mode: 0o644 });
    mkdirSync(join(dir, "spool"));
    chownSync(join(dir, "spool"), PROXY_UID, PROXY_UID);
    const config = {
      tenant: "acme",
      agent: "agent-1",
      listen: { host: "127.0.0.1", port: 7070 },
      admin: { host: "127.0.0.1", port: 7071 },
      keys: join(dir, "keys.json"),
      upstreams: [{ name: "files", url: `http://${SERVER_IP}:8080/mcp` }],
      policy: { bundle: join(ROOT, "policies/finance/build/policy.wasm"), data: join(ROOT, "policies/finance/build/data.json") },
      audit: { spool: join(dir, "spool"), keys: join(dir, "audit-keys.json"), stream: "netns" },
      logLevel: "info",
    };
    writeFileSync(join(dir, "gateway.json"), JSON.stringify(config), { mode: 0o644 });
    token = mintToken(KeyRing.fromFile(keyFile), { tenant: "acme", subject: "agent-1", caveats: [{ type: "tools", allow: ["files.read_file", "files.list_files"] }], issuedAt: Math.floor(Date.now() / 1000) });

    const server = await startIn([process.execPath, "examples/demo/mcp-server.ts"], "demo MCP server at", { ...process.env, HOST: SERVER_IP, PORT: "8080" });
    children.push(server.child);
    const other = await startIn(
      [process.execPath, "-e", `require("node:http").createServer((q, s) => s.end("direct from 8081")).listen(8081, "${SERVER_IP}", () => console.log("other up"))`],
      "other up",
    );
    children.push(other.child);
    const drop = ["--reuid", String(PROXY_UID), "--regid", String(PROXY_UID), "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"];
    const sidecar = await startIn(["setpriv", ...drop, process.execPath, "cli/main.ts", "sidecar", "--config", join(dir, "gateway.json")], '"sidecar listening"');
    children.push(sidecar.child);
    sidecarLogs = sidecar.output;
  });

  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", NS]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const calls = [
    { name: "read_file", arguments: { path: "/data/a.txt" } },
    { name: "delete_file", arguments: { path: "/data/a.txt" } },
  ];

  test("without the rules the client reaches the server directly: nothing is checked", () => {
    const results = runClient(`http://${SERVER_IP}:8080/mcp`, token, calls);
    assert.deepEqual(results.map((r) => [r.name, r.isError]), [["read_file", false], ["delete_file", false]]);
    assert.equal(results[1]?.text, "deleted /data/a.txt");
    assert.equal(readSpool(join(dir, "spool")).filter((r) => r.kind === "decision").length, 0);
  });

  test("the redirect script installs the rules; running it again changes nothing", () => {
    const env = { ...process.env, INTENTGATE_REDIRECT_DESTINATIONS: `${SERVER_IP}:8080`, INTENTGATE_PROXY_UID: String(PROXY_UID), INTENTGATE_PROXY_PORT: "7070" };
    const script = join(ROOT, "images/redirect/intentgate-redirect.sh");
    sh("ip", ["netns", "exec", NS, "sh", script], env);
    const first = sh("ip", ["netns", "exec", NS, "iptables", "-t", "nat", "-S"]);
    sh("ip", ["netns", "exec", NS, "sh", script], env);
    assert.equal(sh("ip", ["netns", "exec", NS, "iptables", "-t", "nat", "-S"]), first);
    assert.match(first, /-A OUTPUT -p tcp -j INTENTGATE_OUTPUT/);
    assert.match(first, new RegExp(`-A INTENTGATE_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN`));
    assert.match(first, new RegExp(`-A INTENTGATE_OUTPUT -d ${SERVER_IP.replace(/\./g, "\\.")}/32 -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 7070`));
  });

  test("with the rules the same client's calls land in the sidecar: decided, recorded, the uncovered one refused", () => {
    const before = readSpool(join(dir, "spool")).length;
    const results = runClient(`http://${SERVER_IP}:8080/mcp`, token, calls);
    assert.equal(results[0]?.isError, false);
    assert.equal(results[0]?.text, "contents of /data/a.txt");
    assert.equal(results[1]?.isError, true, "delete_file is refused by the sidecar");
    assert.match(results[1]?.text ?? "", /tool_not_allowed/);
    const decisions = readSpool(join(dir, "spool")).slice(before).filter((r) => r.kind === "decision") as Array<{ tool?: string; disposition?: string; server?: string }>;
    assert.deepEqual(decisions.map((d) => [d.server, d.tool, d.disposition]), [["files", "read_file", "allowed"], ["files", "delete_file", "blocked"]], sidecarLogs());
  });

  test("a call without a token, redirected, is refused: nothing reaches the server unchecked", () => {
    const results = runClient(`http://${SERVER_IP}:8080/mcp`, "", [{ name: "read_file", arguments: { path: "/x" } }]);
    assert.equal(results[0]?.isError, true);
    assert.match(results[0]?.text ?? "", /token_missing/);
  });

  test("traffic to a port no server declares is untouched", () => {
    const before = readSpool(join(dir, "spool")).length;
    assert.equal(fetchIn(`http://${SERVER_IP}:8081/`), "direct from 8081");
    assert.equal(readSpool(join(dir, "spool")).length, before);
  });
});
