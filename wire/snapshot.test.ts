// The tool-definition pin (McpServer spec.pinnedTools) is a wire contract: a fixed vector that any
// RFC 8785 implementation reproduces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { toolDefinitionHash } from "./snapshot.ts";

test("the tool definition hash is SHA-256 over the RFC 8785 form (fixed vector)", () => {
  // Reproduce with any JCS implementation: sha256 of
  // {"description":"Überweisung an eine IBAN","inputSchema":{"properties":{"amount":{"minimum":1,"type":"number"}},"type":"object"},"name":"überweisen"}
  const tool = { name: "überweisen", inputSchema: { type: "object", properties: { amount: { type: "number", minimum: 1.0 } } }, description: "Überweisung an eine IBAN" };
  assert.equal(toolDefinitionHash(tool), "sha256:2292674130afe64d51fec13e9c81a5a0897489014af3c140a0c49c640981b6b5");
});
