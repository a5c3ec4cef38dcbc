// Every reason code the gateway can send is documented in docs/reason-codes.md, and every documented
// code is one the code can send. Codes are found where they are made: check refusals (block, fail,
// deny, code:), transport errors (HttpError, ProtocolError, JsonSyntaxError) and budget ceilings.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../support/gateway.ts";

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

const MAKERS = [
  /\bblock\(\s*"([a-z][a-z0-9_]*)"/g,
  /\b(?:fail|deny|refuse|reject)\(\s*"([a-z][a-z0-9_]*)"/g,
  /\bcode: "([a-z][a-z0-9_]*)"/g,
  /new HttpError\(\s*\d{3},\s*"([a-z][a-z0-9_]*)"/g,
  /new ProtocolError\(\s*[^,]+,\s*"([a-z][a-z0-9_]*)"/g,
  /new JsonSyntaxError\(\s*"([a-z][a-z0-9_]*)"/g,
];
// Built from parts in sidecar/checks/budget.ts.
const BUDGET_CODES = ["budget_agent_calls", "budget_agent_cost", "budget_tenant_calls", "budget_tenant_cost", "budget_token_calls", "budget_token_rate", "budget_token_cost"];
// Codes that name something else than a refusal sent to a client (policy load errors, key file errors).
const NOT_SENT = new Set(["bad_key_file", "policy_unreadable", "policy_bundle_invalid", "policy_data_invalid", "policy_smoke_failed", "not_canonicalizable", "bad_revocation_file"]);

function codesInSource(): Set<string> {
  const found = new Set<string>(BUDGET_CODES);
  // The token and memory checks' codes are made in the TypeScript SDK's sources, which wire/ imports.
  for (const file of [...sources("sidecar"), ...sources("wire/token"), ...sources("sdk/typescript/src")]) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const maker of MAKERS) for (const m of text.matchAll(maker)) found.add(m[1] as string);
  }
  for (const code of NOT_SENT) found.delete(code);
  return found;
}

function codesInDoc(): Set<string> {
  const doc = readFileSync(join(ROOT, "docs/reason-codes.md"), "utf8");
  return new Set([...doc.matchAll(/^\| `([a-z][a-z0-9_]*)` \|/gm)].map((m) => m[1] as string));
}

test("every reason code the gateway makes is documented", () => {
  const documented = codesInDoc();
  const missing = [...codesInSource()].filter((c) => !documented.has(c) && !["allow", "block", "escalate", "allowed", "pass", "deny", "error"].includes(c));
  assert.deepEqual(missing, []);
});

test("every documented reason code is made somewhere", () => {
  const made = codesInSource();
  const corpus = [...sources("sidecar"), ...sources("wire"), ...sources("sdk/typescript/src")].map((f) => readFileSync(join(ROOT, f), "utf8")).join("\n");
  const stale = [...codesInDoc()].filter((c) => !made.has(c) && !corpus.includes(`"${c}"`));
  assert.deepEqual(stale, []);
});
