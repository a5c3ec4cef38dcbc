// A trusted memory writer (a CRM sync, a knowledge-base ingester) signs each entry as it writes it, so
// the sidecar can refuse calls shaped by entries nobody trusted wrote. It needs the tenant's key file
// (or a writer key file from `intentgate memory writer-key`), never an agent's token.
//
//   INTENTGATE_KEYS=keys.json INTENTGATE_TENANT=acme node writer.ts mem-001 "Acme Corp IBAN: NL12ACME0123456"
import { readFileSync } from "node:fs";
import { MemoryWriter, TokenKeys } from "@intentgate/sdk";

const [id, content] = process.argv.slice(2);
if (id === undefined || content === undefined) throw new Error("usage: writer.ts <id> <content>");
const file: unknown = JSON.parse(readFileSync(process.env["INTENTGATE_KEYS"] ?? "keys.json", "utf8"));
const writer =
  typeof file === "object" && file !== null && "kind" in file
    ? await MemoryWriter.fromFile(file)
    : await MemoryWriter.fromKeys(TokenKeys.fromFile(file), process.env["INTENTGATE_TENANT"] ?? "acme", "crm-sync");

const now = Math.floor(Date.now() / 1000);
const item = await writer.sign({ id, content, writtenAt: now, expiresAt: now + 30 * 86400 });
// Store `item` beside the entry; the agent presents it, with the content, on the calls the entry shapes.
console.log(JSON.stringify(item));
