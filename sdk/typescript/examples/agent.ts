// An agent that calls a tool through the IntentGate sidecar with the official MCP client. It narrows
// the token its operator gave it to this one task (one tool, one folder, five minutes, this prompt)
// before it uses it, so a hijacked step cannot do more than the task needs.
//
//   INTENTGATE_URL=http://127.0.0.1:7070/mcp/files INTENTGATE_TOKEN=igt1.… node agent.ts
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { attenuateToken, bindPrompt, refusalOf, sidecarTransportOptions, toolCallMeta } from "@intentgate/sdk";

const url = process.env["INTENTGATE_URL"] ?? "http://127.0.0.1:7070/mcp/files";
const token = process.env["INTENTGATE_TOKEN"];
if (token === undefined) throw new Error("set INTENTGATE_TOKEN to the token your operator minted for this agent");

const prompt = "Summarise the quarterly report in /data/report.csv";
const now = Math.floor(Date.now() / 1000);
const taskToken = await bindPrompt(
  await attenuateToken(token, [
    { type: "tools", allow: ["files.read_file"] },
    { type: "arg", path: "/path", op: "under", value: "/data" },
    { type: "expires", at: now + 300 },
  ]),
  prompt,
);

const client = new Client({ name: "report-agent", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url), sidecarTransportOptions(taskToken)));
try {
  for (const [tool, path] of [["read_file", "/data/report.csv"], ["delete_file", "/data/report.csv"]] as const) {
    const result = await client.callTool({ name: tool, arguments: { path }, _meta: toolCallMeta({ prompt }) });
    const refusal = refusalOf(result);
    if (refusal !== undefined) console.log(`${tool}: refused (${refusal.code}): ${refusal.reason}`);
    else console.log(`${tool}: ${JSON.stringify(result.content)}`);
  }
} finally {
  await client.close();
}
