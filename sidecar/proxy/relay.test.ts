// Which upstream SSE events are relayed untouched, checked, or dropped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SseSplitter } from "../mcp/sse.ts";
import { PendingRequests } from "./pending.ts";
import { rewriteEvent } from "./relay.ts";

function relay(stream: string, pending = new PendingRequests()): { out: Array<string | null>; dropped: string[] } {
  const dropped: string[] = [];
  const events = new SseSplitter(1 << 20).push(Buffer.from(stream, "utf8"));
  return { out: events.map((e) => rewriteEvent(e, { pending, onDroppedEvent: (m) => dropped.push(m) })), dropped };
}

test("a priming event (id, retry, empty data) is relayed byte for byte", () => {
  const priming = "id: stream-1_0001\nretry: 500\ndata: \n\n";
  assert.deepEqual(relay(priming), { out: [priming], dropped: [] });
  const bare = "id: 42\ndata:\n\n";
  assert.deepEqual(relay(bare), { out: [bare], dropped: [] });
});

test("a message event is still checked: data that is not JSON, or blank but not empty, is dropped", () => {
  assert.deepEqual(relay("id: 1\ndata: {not json\n\n").out, [null]);
  assert.deepEqual(relay("id: 1\ndata:  \n\n").out, [null]);
  assert.equal(relay("id: 1\ndata: {}\n\n").dropped.length, 1); // a response to nothing we forwarded
});

test("an answer to a forwarded request is relayed; a second answer to the same id is dropped", () => {
  const pending = new PendingRequests();
  pending.add(3, { method: "ping" });
  const answer = 'id: 9\ndata: {"jsonrpc":"2.0","id":3,"result":{}}\n\n';
  assert.deepEqual(relay(answer + answer, pending).out, [answer, null]);
});
