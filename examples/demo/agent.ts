// A scripted agent: an ordinary MCP client (official SDK) that presents its capability token and
// makes a few calls through the gateway, printing what the gateway decided for each.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export interface DemoStep {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  note: string;
}

export const DEMO_STEPS: readonly DemoStep[] = [
  { server: "files", tool: "read_file", arguments: { path: "/data/report.csv" }, note: "a call the token and policy allow" },
  { server: "payments", tool: "transfer", arguments: { amount: 250, currency: "EUR", iban: "GB29NWBK60161331926819" }, note: "policy blocks: IBAN country not allowlisted" },
  { server: "payments", tool: "transfer", arguments: { amount: 25000, currency: "EUR", iban: "NL91ABNA0417164300" }, note: "policy escalates: above 10,000 EUR" },
  { server: "files", tool: "delete_file", arguments: { path: "/data/report.csv" }, note: "token does not cover delete_file" },
  { server: "files", tool: "list_files", arguments: { folder: "/data" }, note: "allowed: second call of the hour" },
  { server: "files", tool: "read_file", arguments: { path: "/data/notes.txt" }, note: "allowed: third call of the hour" },
  { server: "files", tool: "read_file", arguments: { path: "/data/notes.txt" }, note: "budget: the agent may make 3 calls an hour" },
];

export interface StepResult {
  step: DemoStep;
  outcome: string;
  text: string;
}

export async function runDemoAgent(gatewayUrl: string, token: string, print: (line: string) => void = () => undefined): Promise<StepResult[]> {
  const clients = new Map<string, Client>();
  const results: StepResult[] = [];
  try {
    for (const step of DEMO_STEPS) {
      let client = clients.get(step.server);
      if (client === undefined) {
        client = new Client({ name: "demo-agent", version: "1.0.0" });
        const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/${step.server}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
        await client.connect(transport);
        clients.set(step.server, client);
      }
      const result = await client.callTool({ name: step.tool, arguments: step.arguments });
      const decision = result._meta?.["dev.intentgate/decision"] as { code: string; decision: string } | undefined;
      const text = (result.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? "").join(" ");
      const outcome = decision === undefined ? "allowed" : decision.code;
      results.push({ step, outcome, text });
      const mark = decision === undefined ? "ALLOWED  " : decision.decision === "escalate" ? "ESCALATED" : "REFUSED  ";
      print(`${mark} ${`${step.server}.${step.tool}`.padEnd(22)} ${outcome.padEnd(20)} ${step.note}`);
      if (decision !== undefined) print(`          ${text}`);
    }
  } finally {
    for (const client of clients.values()) await client.close();
  }
  return results;
}

if (import.meta.main) {
  const [url, token] = process.argv.slice(2);
  if (!url || !token) {
    process.stderr.write("usage: agent.ts GATEWAY_URL TOKEN\n");
    process.exit(2);
  }
  await runDemoAgent(url, token, (line) => process.stdout.write(`${line}\n`));
}
