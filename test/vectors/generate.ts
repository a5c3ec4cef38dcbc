// Writes the committed vector files. Deterministic: run it again and nothing changes unless the code or the
// cases did. vectors.test.ts regenerates in memory and compares, so a stale file fails the tests.
//   node test/vectors/generate.ts
import { writeFileSync } from "node:fs";
import { canonicalize } from "../../wire/index.ts";
import { CANONICAL_CASES, NUMBER_CASES, NUMBER_REFUSALS, REFUSED_CASES } from "./canonical-json-cases.ts";
import { buildTokenVectors } from "./build-token-vectors.ts";

export const CANONICAL_JSON_FILE = new URL("./canonical-json.json", import.meta.url);
export const CAPABILITY_TOKENS_FILE = new URL("./capability-tokens.json", import.meta.url);

const utf8Hex = (text: string): string => Buffer.from(text, "utf8").toString("hex");

export function buildCanonicalJsonVectors() {
  for (const c of CANONICAL_CASES) {
    const actual = canonicalize(JSON.parse(c.input));
    if (actual !== c.expected) throw new Error(`"${c.name}": RFC 8785 gives ${c.expected}, the code gives ${actual}`);
  }
  return {
    description:
      "RFC 8785 (JCS) vectors. canonical: parse input (JSON text), canonicalize, compare the UTF-8 bytes with expected_utf8_hex. " +
      "numbers: the IEEE 754 double (big-endian hex) serialises as expected. number_refusals and refused: canonicalization must fail. " +
      "Regenerate with: node test/vectors/generate.ts",
    canonical: CANONICAL_CASES.map((c) => ({ ...c, expected_utf8_hex: utf8Hex(c.expected) })),
    numbers: NUMBER_CASES,
    number_refusals: NUMBER_REFUSALS,
    refused: REFUSED_CASES,
  };
}

export const render = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

if (import.meta.main) {
  writeFileSync(CANONICAL_JSON_FILE, render(buildCanonicalJsonVectors()));
  writeFileSync(CAPABILITY_TOKENS_FILE, render(buildTokenVectors()));
  console.log("wrote test/vectors/canonical-json.json and test/vectors/capability-tokens.json");
}
