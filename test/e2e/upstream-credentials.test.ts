// The sidecar, not the agent, holds upstream credentials: it adds them to forwarded calls, and the
// agent's own Authorization (its capability token) never reaches the upstream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startGateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

test("configured credential headers are added upstream; the capability token is not", async () => {
  const upstream = await startRecordingUpstream();
  const withCreds = await startGateway({
    policy: "default",
    upstreamUrl: upstream.url,
    config: { upstreams: [{ name: "files", url: upstream.url, headers: { authorization: { env: "FILES_API_TOKEN", prefix: "Bearer " } } }] },
    start: { env: { FILES_API_TOKEN: "upstream-secret" } },
  });
  try {
    const token = withCreds.mint();
    assert.equal(outcomeOf(await postRpc(`${withCreds.sidecar.url}/mcp/files`, toolCall(1, "read_file"), token)), "allowed");
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.headers["authorization"], "Bearer upstream-secret");
    assert.ok(!JSON.stringify(seen?.headers).includes(token.slice(5, 40)));
  } finally {
    await withCreds.close();
    await upstream.close();
  }
});

test("a credential whose environment variable is missing stops the sidecar from starting", async () => {
  const upstream = await startRecordingUpstream();
  try {
    await assert.rejects(
      startGateway({
        policy: "default",
        upstreamUrl: upstream.url,
        config: { upstreams: [{ name: "files", url: upstream.url, headers: { authorization: { env: "NOT_SET_ANYWHERE" } } }] },
        start: { env: {} },
      }),
      /NOT_SET_ANYWHERE/,
    );
  } finally {
    await upstream.close();
  }
});
