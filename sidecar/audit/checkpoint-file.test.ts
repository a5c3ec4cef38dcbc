// checkpoints.ndjson: appends are durable and in order, a compaction never runs under an append,
// and appends after a compaction land in the new file, not in the renamed-over one.
import assert from "node:assert/strict";
import { constants, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openFlags } from "../../test/support/fd-flags.ts";
import { CheckpointFile } from "./checkpoint-file.ts";

const lines = (path: string): string[] => readFileSync(path, "utf8").split("\n").filter(Boolean);

test("appends run in order, each durable (O_DSYNC) when it resolves", async () => {
  const file = new CheckpointFile(mkdtempSync(join(tmpdir(), "intentgate-ckpt-")));
  await Promise.all(Array.from({ length: 20 }, (_, i) => file.append(`{"seq":${i + 1}}`)));
  assert.deepEqual(lines(file.path), Array.from({ length: 20 }, (_, i) => `{"seq":${i + 1}}`));
  const flags = openFlags(file.path);
  assert.equal(flags.length, 1);
  assert.ok(((flags[0] as number) & constants.O_DSYNC) !== 0, "opened with O_DSYNC: no fsync follows the write");
  await file.close();
  assert.equal(openFlags(file.path).length, 0);
});

test("a rewrite waits for appends in flight; appends after it land in the new file", async () => {
  const file = new CheckpointFile(mkdtempSync(join(tmpdir(), "intentgate-ckpt-")));
  await file.append('{"seq":1}');
  const replace = (): void => {
    // What the shipper's compaction does: a new file renamed over the old one.
    writeFileSync(`${file.path}.tmp`, '{"seq":1}\n');
    renameSync(`${file.path}.tmp`, file.path);
  };
  const inFlight = file.append('{"seq":2}');
  assert.equal(file.rewrite(replace), false, "refused while an append is in flight");
  await inFlight;
  assert.deepEqual(lines(file.path), ['{"seq":1}', '{"seq":2}']);
  assert.equal(file.rewrite(replace), true);
  await file.append('{"seq":3}');
  assert.deepEqual(lines(file.path), ['{"seq":1}', '{"seq":3}'], "the append went to the file now at the path");
  await file.close();
});

test("a failed append rejects and does not wedge the ones after it", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "intentgate-ckpt-")), "not-yet");
  const file = new CheckpointFile(dir);
  await assert.rejects(file.append('{"seq":1}'), { code: "ENOENT" });
  mkdirSync(dir);
  await file.append('{"seq":2}');
  assert.deepEqual(lines(file.path), ['{"seq":2}']);
  await file.close();
});
