// `intentgate sidecar --kubernetes` refuses to start without its pod's UID, or with one that is not
// a UID: its audit stream is named for it, and the controller would refuse any other.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "intentgate-kube-cli-"));
const env = {
  PATH: process.env["PATH"] ?? "",
  INTENTGATE_CONTROLLER_URL: "http://127.0.0.1:9",
  INTENTGATE_TOKEN_FILE: join(dir, "token"),
  INTENTGATE_STATE_DIR: join(dir, "state"),
  INTENTGATE_POD_NAME: "agent-0",
};
const run = (extra: Record<string, string>) => spawnSync(process.execPath, [MAIN, "sidecar", "--kubernetes"], { encoding: "utf8", env: { ...env, ...extra }, timeout: 20_000 });

test("without INTENTGATE_POD_UID the sidecar exits 2 and says where the value comes from", () => {
  const r = run({});
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /INTENTGATE_POD_UID \(the pod's metadata\.uid, from the downward API/);
});

test("a value that is not a pod UID is refused before anything starts", () => {
  const r = run({ INTENTGATE_POD_UID: "agent-0" });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /pod uid "agent-0" is not a lowercase UUID/);
  assert.equal(existsSync(env.INTENTGATE_STATE_DIR), false);
});
