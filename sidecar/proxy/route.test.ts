import assert from "node:assert/strict";
import { test } from "node:test";
import { authorityKey, HostTable } from "./hosts.ts";
import { resolveTarget, type Target } from "./route.ts";

const table = HostTable.build([
  { server: "payments", url: "http://payments.pay.svc:8080/mcp", hosts: ["payments:8080", "pay.example"] },
  { server: "files", url: "https://files.example/mcp", sseUrl: "https://files.example/sse" },
  { server: "tools-a", url: "http://tools:9000/a" },
  { server: "tools-b", url: "http://tools:9000/b" },
]);
const passthroughTable = HostTable.build([{ server: "payments", url: "http://payments:8080/mcp" }], "passthrough");

const reason = (t: Target): string | undefined => (t.kind === "refused" ? t.error.reason : undefined);

test("authorities normalise: case, trailing dot, default ports; junk is not an authority", () => {
  assert.equal(authorityKey("Payments.Example.", 80), "payments.example:80");
  assert.equal(authorityKey("x:80", 443), "x:80");
  assert.equal(authorityKey("x", 443), "x:443");
  assert.equal(authorityKey("[::1]:7070", 80), "[::1]:7070");
  for (const bad of ["", "a@b", "a/b", "a b", "a:99999", "a:x"]) assert.equal(authorityKey(bad, 80), undefined, bad);
});

test("a declared Host routes to its server at the server's own path", () => {
  for (const host of ["payments:8080", "payments.pay.svc:8080", "PAY.example", "pay.example:80"]) {
    assert.deepEqual(resolveTarget("/mcp", { host }, table), { kind: "host", route: { kind: "streamable", server: "payments" } }, host);
  }
  assert.deepEqual(resolveTarget("/mcp/payments/messages?session=s1", { host: "payments:8080" }, table), {
    kind: "host",
    route: { kind: "legacy-messages", server: "payments", session: "s1" },
  });
});

test("an https server's own authority counts with port 443, and its legacy SSE path routes", () => {
  assert.deepEqual(resolveTarget("/sse", { host: "files.example:443" }, table), { kind: "host", route: { kind: "legacy-sse", server: "files" } });
  assert.deepEqual(resolveTarget("/mcp", { host: "files.example" }, table), { kind: "path", path: "/mcp" }, "port 80 is not declared for files");
});

test("servers sharing an authority are told apart by path; an unknown path or another server's layout is not routed", () => {
  assert.deepEqual(resolveTarget("/a", { host: "tools:9000" }, table), { kind: "host", route: { kind: "streamable", server: "tools-a" } });
  assert.deepEqual(resolveTarget("/b/", { host: "tools:9000" }, table), { kind: "host", route: { kind: "streamable", server: "tools-b" } });
  assert.deepEqual(resolveTarget("/c", { host: "tools:9000" }, table), { kind: "host", route: undefined });
  assert.deepEqual(resolveTarget("/mcp/files", { host: "payments:8080" }, table), { kind: "host", route: undefined });
});

test("absolute-form (forward proxy) routes by the target's authority, whatever Host says", () => {
  assert.deepEqual(resolveTarget("http://payments:8080/mcp", { host: "elsewhere" }, table), { kind: "host", route: { kind: "streamable", server: "payments" } });
  assert.deepEqual(resolveTarget("http://127.0.0.1:7070/mcp/files?x=1", { host: "127.0.0.1:7070" }, table), { kind: "path", path: "/mcp/files?x=1" });
});

test("an undeclared authority in absolute-form is unknown_host, or passthrough when the table says so", () => {
  assert.equal(reason(resolveTarget("http://evil.example/mcp", {}, table)), "unknown_host");
  assert.equal(reason(resolveTarget("http://payments:8081/mcp", {}, table)), "unknown_host", "another port is another authority");
  assert.deepEqual(resolveTarget("http://Other:81/x?y", {}, passthroughTable), { kind: "passthrough", authority: "other:81", path: "/x?y" });
});

test("bad proxy targets are refused: https, credentials, no authority", () => {
  for (const url of ["https://payments:8080/mcp", "http://u:p@payments:8080/mcp", "ftp://x/y", "http://[/"]) {
    assert.equal(reason(resolveTarget(url, {}, passthroughTable)), "bad_request_target", url);
  }
});

test("an undeclared Host in origin-form and loopback names stay with path routing (and its DNS-rebinding check)", () => {
  assert.deepEqual(resolveTarget("/mcp/files", { host: "evil.example" }, passthroughTable), { kind: "path", path: "/mcp/files" });
  assert.deepEqual(resolveTarget("/mcp/files", { host: "localhost:7070" }, table), { kind: "path", path: "/mcp/files" });
  assert.deepEqual(resolveTarget("/mcp/files", {}, table), { kind: "path", path: "/mcp/files" });
});

test("a host-routed request from a browser must come from loopback or the server's own origin", () => {
  assert.equal(reason(resolveTarget("/mcp", { host: "payments:8080", origin: "http://evil.example" }, table)), "origin_not_allowed");
  assert.equal(reason(resolveTarget("/mcp", { host: "payments:8080", origin: "null" }, table)), "origin_not_allowed");
  assert.equal(reason(resolveTarget("/mcp", { host: "payments:8080", origin: "http://files.example:443" }, table)), "origin_not_allowed", "another server's origin");
  assert.equal(resolveTarget("/mcp", { host: "payments:8080", origin: "http://pay.example" }, table).kind, "host");
  assert.equal(resolveTarget("/mcp", { host: "payments:8080", origin: "http://localhost:3000" }, table).kind, "host");
});

test("an unusable declared host stops the table from being built", () => {
  assert.throws(() => HostTable.build([{ server: "x", url: "http://x/mcp", hosts: ["a/b"] }]), /not a host\[:port\]/);
});
