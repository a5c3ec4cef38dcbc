import assert from "node:assert/strict";
import { test } from "node:test";
import { isPodStream, podStream } from "./pod-stream.ts";

const UID = "4f1c9a2e-7b3d-4e5f-8a9b-0c1d2e3f4a5b";
const LATER = "0b6e2d1c-3a4f-4b5e-9c8d-7e6f5a4b3c2d";

test("a pod's stream is its tenant, namespace, name and UID, within the stream name's limits", () => {
  const stream = podStream("team-a", "payments", "agent-0", UID);
  assert.equal(stream, "team-a:payments:agent-0:4f1c9a2e7b3d4e5f8a9b0c1d2e3f4a5b");
  const long = podStream("t".repeat(253), "n".repeat(63), "p".repeat(253), UID);
  assert.match(long, /^h:[0-9a-f]{32}:4f1c9a2e7b3d4e5f8a9b0c1d2e3f4a5b$/);
  for (const s of [stream, long]) assert.match(s, /^[A-Za-z0-9._:-]{1,128}$/);
});

test("only the pod with that name and that UID owns the stream", () => {
  const stream = podStream("team-a", "payments", "agent-0", UID);
  assert.equal(isPodStream(stream, "team-a", "payments", "agent-0", UID), true);
  assert.equal(isPodStream(stream, "team-a", "payments", "agent-0", LATER), false, "a later pod of the same name");
  assert.equal(isPodStream(stream, "team-a", "payments", "agent-1", UID), false);
  assert.equal(isPodStream(stream, "team-b", "payments", "agent-0", UID), false);
  // Other suffixes under the pod's prefix (the random suffixes streams once had) are not its stream.
  assert.equal(isPodStream("team-a:payments:agent-0:1a2b3c4d", "team-a", "payments", "agent-0", UID), false);
  assert.equal(isPodStream(`${stream}0`, "team-a", "payments", "agent-0", UID), false);
});

test("a UID that is not a lowercase UUID names no stream", () => {
  for (const bad of ["", UID.toUpperCase(), UID.replaceAll("-", ""), `${UID}-1`, "../../x"]) {
    assert.throws(() => podStream("team-a", "payments", "agent-0", bad), /not a lowercase UUID/, bad);
    assert.equal(isPodStream(`team-a:payments:agent-0:${bad}`, "team-a", "payments", "agent-0", bad), false, bad);
  }
});
