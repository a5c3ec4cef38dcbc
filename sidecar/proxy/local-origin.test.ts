// The DNS-rebinding rule as a pure function of the connection's local address and two headers.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { isLoopbackAddress, isLoopbackHostname, localOriginRefusal } from "./local-origin.ts";

const req = (localAddress: string | undefined, headers: Record<string, string>): IncomingMessage => ({ socket: { localAddress }, headers }) as unknown as IncomingMessage;

test("loopback addresses: 127.0.0.0/8, ::1 and IPv4-mapped 127.x; nothing else", () => {
  for (const a of ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "::FFFF:127.1.2.3"]) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of [undefined, "10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "128.0.0.1", "fe80::1"]) assert.equal(isLoopbackAddress(a), false, String(a));
});

test("loopback hostnames as new URL() writes them: localhost, 127.x, [::1], [::ffff:7f..]", () => {
  for (const h of ["localhost", "127.0.0.1", "127.9.9.9", "[::1]", "[::ffff:7f00:1]"]) assert.equal(isLoopbackHostname(h), true, h);
  for (const h of ["localhost.", "evil.localhost", "127.0.0.1.nip.io", "10.0.0.1", "[::2]", "[::ffff:a00:1]", ""]) assert.equal(isLoopbackHostname(h), false, h);
});

test("on a loopback connection a foreign or malformed Host or Origin is refused with 403 and a stable reason", () => {
  const reason = (localAddress: string, headers: Record<string, string>): string | undefined => {
    const refusal = localOriginRefusal(req(localAddress, headers));
    if (refusal !== undefined) assert.equal(refusal.status, 403);
    return refusal?.reason;
  };
  assert.equal(reason("127.0.0.1", { host: "127.0.0.1:7070" }), undefined);
  assert.equal(reason("::1", { host: "[::1]:7070", origin: "http://localhost:3000" }), undefined);
  assert.equal(reason("127.0.0.1", { host: "0x7f.1:7070" }), undefined); // new URL() reads this as 127.0.0.1
  assert.equal(reason("127.0.0.1", { host: "evil.example:7070" }), "host_not_allowed");
  assert.equal(reason("127.0.0.1", {}), "host_not_allowed");
  assert.equal(reason("127.0.0.1", { host: "" }), "host_not_allowed");
  assert.equal(reason("127.0.0.1", { host: "localhost/x" }), "host_not_allowed");
  assert.equal(reason("127.0.0.1", { host: "localhost:notaport" }), "host_not_allowed");
  assert.equal(reason("::ffff:127.0.0.1", { host: "evil.example" }), "host_not_allowed");
  assert.equal(reason("127.0.0.1", { host: "localhost", origin: "https://evil.example" }), "origin_not_allowed");
  assert.equal(reason("127.0.0.1", { host: "localhost", origin: "null" }), "origin_not_allowed");
});

test("a connection on another address is not judged here (which names reach it depends on the deployment)", () => {
  assert.equal(localOriginRefusal(req("10.1.2.3", { host: "agents.internal:7070", origin: "https://console.internal" })), undefined);
});
