// `intentgate tools pin`: connects to a live MCP server with the official SDK client, lists its tools
// and prints their pins as YAML for an McpServer's spec.pinnedTools. The pins hash the tool objects
// exactly as the server sent them (docs/kubernetes/pinned-tools.md), so the SDK's typed parsing is
// bypassed: the result is read with a schema that keeps every field.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Command } from "commander";
import { stringify } from "yaml";
import { z } from "zod";
import { toolDefinitionHash } from "../../wire/snapshot.ts";
import { CliError } from "../errors.ts";
import type { Output } from "../output.ts";

const ListResult = z.looseObject({ tools: z.array(z.unknown()), nextCursor: z.string().optional() });
const MAX_PAGES = 1000;

export interface PinOptions {
  url: string;
  headers: Record<string, string>;
  sse: boolean;
  /** Pin only these tools; every listed tool when empty. */
  only: readonly string[];
}

/** Lists every tool of the server (all pages) as the server sent them. */
export async function listRawTools(options: Pick<PinOptions, "url" | "headers" | "sse">): Promise<unknown[]> {
  const url = new URL(options.url);
  const requestInit = { headers: options.headers };
  const transport = options.sse ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
  const client = new Client({ name: "intentgate-tools-pin", version: "1" });
  try {
    await client.connect(transport);
    const tools: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await client.request({ method: "tools/list", params: cursor === undefined ? {} : { cursor } }, ListResult);
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (cursor === undefined) return tools;
    }
    throw new CliError(`${options.url} kept paginating tools/list past ${MAX_PAGES} pages`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Tool name -> pin, sorted by name. Refuses a listing it cannot pin unambiguously. */
export function pinsOf(tools: readonly unknown[], only: readonly string[]): Record<string, string> {
  const pins = new Map<string, string>();
  for (const tool of tools) {
    const name = typeof tool === "object" && tool !== null ? (tool as { name?: unknown }).name : undefined;
    if (typeof name !== "string") throw new CliError("the server listed a tool without a name");
    if (only.length > 0 && !only.includes(name)) continue;
    if (pins.has(name)) throw new CliError(`the server listed tool "${name}" twice: it cannot be pinned`);
    try {
      pins.set(name, toolDefinitionHash(tool));
    } catch (error) {
      throw new CliError(`tool "${name}": its definition is not canonical JSON (${(error as Error).message})`);
    }
  }
  const missing = only.filter((name) => !pins.has(name));
  if (missing.length > 0) throw new CliError(`the server does not list ${missing.map((n) => `"${n}"`).join(", ")}`);
  return Object.fromEntries([...pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function parseHeader(value: string, previous: Record<string, string>): Record<string, string> {
  const colon = value.indexOf(":");
  const name = colon > 0 ? value.slice(0, colon).trim() : "";
  if (!/^[A-Za-z0-9!#$%&*+.^_|~-]+$/.test(name)) throw new CliError(`--header "${value}": expected "Name: value"`);
  return { ...previous, [name]: value.slice(colon + 1).trim() };
}

export function toolsCommand(out: Output): Command {
  const tools = new Command("tools").description("inspect an MCP server's tools");
  tools
    .command("pin")
    .description("list a live MCP server's tools and print their pins as YAML for an McpServer's spec.pinnedTools")
    .requiredOption("--url <url>", "the server's MCP endpoint (Streamable HTTP; with --sse, its legacy SSE endpoint)")
    .option("--header <name: value>", "a header sent with every request, e.g. Authorization (repeatable)", parseHeader, {})
    .option("--sse", "use the legacy HTTP+SSE transport", false)
    .option("--tool <name>", "pin only this tool (repeatable); default every listed tool", (v: string, p: string[]) => [...p, v], [] as string[])
    .action(async (opts: { url: string; header: Record<string, string>; sse: boolean; tool: string[] }) => {
      if (!/^https?:\/\//.test(opts.url) || !URL.canParse(opts.url)) throw new CliError(`--url ${opts.url}: expected an http or https URL`);
      let listed: unknown[];
      try {
        listed = await listRawTools({ url: opts.url, headers: opts.header, sse: opts.sse });
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(`cannot list the tools of ${opts.url}: ${(error as Error).message}`);
      }
      out.line(stringify({ pinnedTools: pinsOf(listed, opts.tool) }).trimEnd());
    });
  return tools;
}
