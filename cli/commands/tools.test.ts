// `intentgate tools pin`'s refusals; its pins against a live SDK server are checked end to end in
// test/e2e/pinned-tools.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { toolDefinitionHash } from "../../wire/snapshot.ts";
import { runCli } from "../main.ts";
import { pinsOf } from "./tools.ts";

async function run(args: string[]): Promise<{ code: number; errors: string }> {
  const errors: string[] = [];
  const code = await runCli(["tools", "pin", ...args], { json: () => undefined, line: () => undefined, error: (t) => errors.push(t) });
  return { code, errors: errors.join("\n") };
}

test("pins are sorted by name; a subset can be asked for", () => {
  const b = { name: "b", description: "B" };
  const a = { name: "a", description: "A" };
  assert.deepEqual(Object.keys(pinsOf([b, a], [])), ["a", "b"]);
  assert.deepEqual(pinsOf([b, a], ["b"]), { b: toolDefinitionHash(b) });
});

test("a listing that cannot be pinned unambiguously is refused", () => {
  assert.throws(() => pinsOf([{ name: "a" }, { name: "a", description: "other" }], []), /listed tool "a" twice/);
  assert.throws(() => pinsOf([{ description: "no name" }], []), /without a name/);
  assert.throws(() => pinsOf([{ name: "a", description: "\ud800" }], []), /not canonical JSON/);
  assert.throws(() => pinsOf([{ name: "a" }], ["a", "missing"]), /does not list "missing"/);
});

test("bad options and an unreachable server exit 2 with one line", async () => {
  assert.deepEqual(await run(["--url", "ftp://x/mcp"]), { code: 2, errors: "intentgate: error: --url ftp://x/mcp: expected an http or https URL" });
  assert.match((await run(["--url", "http://127.0.0.1:1/mcp", "--header", "no-colon"])).errors, /expected "Name: value"/);
  const unreachable = await run(["--url", "http://127.0.0.1:1/mcp"]);
  assert.equal(unreachable.code, 2);
  assert.match(unreachable.errors, /^intentgate: error: cannot list the tools of http:\/\/127\.0\.0\.1:1\/mcp: /);
});
