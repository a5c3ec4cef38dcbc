// An MCP server built with the official TypeScript SDK that exposes what the server scenarios of the
// official conformance suite (@modelcontextprotocol/conformance) call: the test_* tools, resources,
// resource templates, subscriptions, prompts, completions and logging, over Streamable HTTP with
// sessions, an event store (SSE priming events and resumption with Last-Event-ID) and DNS-rebinding
// protection. The names and behaviours come from the scenario definitions inside the installed
// package. Every tools/call it receives is recorded, so a test can tell that a call was forwarded.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32, deflateSync } from "node:zlib";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport, type EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListToolsRequestSchema,
  McpError,
  ErrorCode,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ElicitRequestFormParams,
  type JSONRPCMessage,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export interface EverythingServer {
  url: string;
  /** Names of the tools called, in order of arrival. */
  calls: string[];
  close(): Promise<void>;
}

/** A 1x1 red PNG, base64. */
const PNG = onePixelPng().toString("base64");
/** A WAV of 8 silent 16-bit mono samples at 8 kHz, base64. */
const WAV = silentWav(8).toString("base64");

function onePixelPng(): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]); // 1x1, 8-bit RGB
  const pixels = deflateSync(Buffer.from([0, 255, 0, 0])); // filter byte, then R G B
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}

function silentWav(samples: number): Buffer {
  const data = samples * 2;
  const out = Buffer.alloc(44 + data);
  out.write("RIFF", 0, "latin1");
  out.writeUInt32LE(36 + data, 4);
  out.write("WAVEfmt ", 8, "latin1");
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(8000, 24); // sample rate
  out.writeUInt32LE(16000, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write("data", 36, "latin1");
  out.writeUInt32LE(data, 40);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const text = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }] });
const noArguments = { type: "object" as const, properties: {} };

type Extra = Parameters<Parameters<McpServer["server"]["setRequestHandler"]>[1]>[1];
interface TestTool {
  definition: Tool;
  run(args: Record<string, unknown>, extra: Extra, server: McpServer): Promise<CallToolResult>;
}

const ELICITATION_SEP1034 = {
  type: "object" as const,
  properties: {
    name: { type: "string" as const, description: "User name", default: "John Doe" },
    age: { type: "integer" as const, description: "User age", default: 30 },
    score: { type: "number" as const, description: "User score", default: 95.5 },
    status: { type: "string" as const, description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
    verified: { type: "boolean" as const, description: "Verification status", default: true },
  },
};

const ELICITATION_SEP1330 = {
  type: "object" as const,
  properties: {
    untitledSingle: { type: "string" as const, description: "Pick one", enum: ["option1", "option2", "option3"] },
    titledSingle: {
      type: "string" as const,
      description: "Pick one (titled)",
      oneOf: [
        { const: "value1", title: "First Option" },
        { const: "value2", title: "Second Option" },
        { const: "value3", title: "Third Option" },
      ],
    },
    legacyEnum: { type: "string" as const, description: "Pick one (legacy titles)", enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"] },
    untitledMulti: { type: "array" as const, description: "Pick several", items: { type: "string" as const, enum: ["option1", "option2", "option3"] } },
    titledMulti: {
      type: "array" as const,
      description: "Pick several (titled)",
      items: {
        anyOf: [
          { const: "value1", title: "First Choice" },
          { const: "value2", title: "Second Choice" },
          { const: "value3", title: "Third Choice" },
        ],
      },
    },
  },
};

async function elicit(extra: Extra, server: McpServer, message: string, requestedSchema: ElicitRequestFormParams["requestedSchema"]): Promise<CallToolResult> {
  if (server.server.getClientCapabilities()?.elicitation === undefined) return { ...text("the client does not support elicitation"), isError: true };
  const result = await extra.sendRequest({ method: "elicitation/create", params: { message, requestedSchema } }, ElicitResultSchema);
  return text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
}

/** The tools, with their JSON Schemas exactly as the scenarios expect them to be listed. */
const TOOLS: TestTool[] = [
  {
    definition: { name: "test_simple_text", description: "Returns simple text content", inputSchema: noArguments },
    run: async () => text("This is a simple text response for testing."),
  },
  {
    definition: { name: "test_image_content", description: "Returns image content", inputSchema: noArguments },
    run: async () => ({ content: [{ type: "image", data: PNG, mimeType: "image/png" }] }),
  },
  {
    definition: { name: "test_audio_content", description: "Returns audio content", inputSchema: noArguments },
    run: async () => ({ content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] }),
  },
  {
    definition: { name: "test_embedded_resource", description: "Returns an embedded resource", inputSchema: noArguments },
    run: async () => ({
      content: [{ type: "resource", resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." } }],
    }),
  },
  {
    definition: { name: "test_multiple_content_types", description: "Returns text, image and resource content", inputSchema: noArguments },
    run: async () => ({
      content: [
        { type: "text", text: "Multiple content types test:" },
        { type: "image", data: PNG, mimeType: "image/png" },
        { type: "resource", resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) } },
      ],
    }),
  },
  {
    definition: { name: "test_tool_with_logging", description: "Sends three log messages while it runs", inputSchema: noArguments },
    run: async (_args, extra) => {
      for (const [i, message] of ["Tool execution started", "Tool processing data", "Tool execution completed"].entries()) {
        if (i > 0) await sleep(50);
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", logger: "everything-server", data: message } });
      }
      return text("Tool with logging executed successfully");
    },
  },
  {
    definition: { name: "test_tool_with_progress", description: "Reports progress 0, 50 and 100 of 100", inputSchema: noArguments },
    run: async (_args, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, total: 100, message: `step ${progress} of 100` } });
        }
      }
      return text(`progress reported with token ${String(progressToken)}`);
    },
  },
  {
    definition: { name: "test_error_handling", description: "Always fails", inputSchema: noArguments },
    run: async () => ({ ...text("This tool intentionally returns an error for testing"), isError: true }),
  },
  {
    definition: { name: "test_reconnection", description: "Closes its SSE stream mid-call; the result arrives after the client resumes", inputSchema: noArguments },
    run: async (_args, extra) => {
      extra.closeSSEStream?.();
      await sleep(100);
      return text("Reconnection test completed: the client resumed the stream.");
    },
  },
  {
    definition: {
      name: "test_sampling",
      description: "Asks the client for an LLM completion",
      inputSchema: { type: "object", properties: { prompt: { type: "string", description: "The prompt to send to the LLM" } }, required: ["prompt"] },
    },
    run: async (args, extra, server) => {
      if (server.server.getClientCapabilities()?.sampling === undefined) return { ...text("the client does not support sampling"), isError: true };
      const prompt = typeof args["prompt"] === "string" ? args["prompt"] : "";
      const result = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 } },
        CreateMessageResultSchema,
      );
      const content = result.content as { type: string; text?: string };
      return text(`LLM response: ${content.type === "text" ? (content.text ?? "") : `[${content.type}]`}`);
    },
  },
  {
    definition: {
      name: "test_elicitation",
      description: "Asks the user for input",
      inputSchema: { type: "object", properties: { message: { type: "string", description: "The message to show the user" } }, required: ["message"] },
    },
    run: async (args, extra, server) =>
      elicit(extra, server, typeof args["message"] === "string" ? args["message"] : "", {
        type: "object",
        properties: { username: { type: "string", description: "User's response" }, email: { type: "string", description: "User's email address" } },
        required: ["username", "email"],
      }),
  },
  {
    definition: { name: "test_elicitation_sep1034_defaults", description: "Elicitation whose fields have defaults (SEP-1034)", inputSchema: noArguments },
    run: async (_args, extra, server) => elicit(extra, server, "Review the fields, defaults filled in", ELICITATION_SEP1034),
  },
  {
    definition: { name: "test_elicitation_sep1330_enums", description: "Elicitation with every enum variant (SEP-1330)", inputSchema: noArguments },
    run: async (_args, extra, server) => elicit(extra, server, "Choose from the enum fields", ELICITATION_SEP1330),
  },
  {
    definition: {
      name: "json_schema_2020_12_tool",
      description: "Tool with JSON Schema 2020-12 features",
      inputSchema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
        properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
        additionalProperties: false,
      },
    },
    run: async (args) => text(`called with ${JSON.stringify(args)}`),
  },
];

function buildServer(calls: string[]): McpServer {
  const server = new McpServer(
    { name: "intentgate-conformance-everything", version: "1.0.0" },
    { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} } },
  );

  // Tools are served with the low-level handlers so that each inputSchema is listed byte for byte.
  const byName = new Map(TOOLS.map((t) => [t.definition.name, t]));
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS.map((t) => t.definition) }));
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${request.params.name}`);
    calls.push(tool.definition.name);
    return tool.run(request.params.arguments ?? {}, extra, server);
  });

  server.registerResource("static-text", "test://static-text", { description: "A static text resource", mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: "This is the content of the static text resource." }],
  }));
  server.registerResource("static-binary", "test://static-binary", { description: "A static binary resource (PNG)", mimeType: "image/png" }, async (uri) => ({
    contents: [{ uri: uri.href, mimeType: "image/png", blob: PNG }],
  }));
  server.registerResource("watched-resource", "test://watched-resource", { description: "A resource clients may subscribe to", mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: "Watched resource content" }],
  }));
  server.registerResource(
    "template",
    new ResourceTemplate("test://template/{id}/data", { list: undefined }),
    { description: "A resource template with one parameter", mimeType: "application/json" },
    async (uri, { id }) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }) }],
    }),
  );
  const subscriptions = new Set<string>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscriptions.add(request.params.uri);
    // Not tied to the request, so the SDK sends it on the session's GET stream.
    void server.server.sendResourceUpdated({ uri: request.params.uri }).catch(() => undefined);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });

  server.registerPrompt("test_simple_prompt", { description: "A prompt without arguments" }, () => ({
    messages: [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }],
  }));
  server.registerPrompt(
    "test_prompt_with_arguments",
    {
      description: "A prompt with two arguments",
      argsSchema: {
        arg1: completable(z.string().describe("First test argument"), (value) => ["paris", "park", "party", "test-one", "test-two"].filter((v) => v.startsWith(value))),
        arg2: z.string().describe("Second test argument"),
      },
    },
    ({ arg1, arg2 }) => ({ messages: [{ role: "user", content: { type: "text", text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }),
  );
  server.registerPrompt(
    "test_prompt_with_embedded_resource",
    { description: "A prompt that embeds a resource", argsSchema: { resourceUri: z.string().describe("URI of the resource to embed") } },
    ({ resourceUri }) => ({
      messages: [
        { role: "user", content: { type: "resource", resource: { uri: resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } } },
        { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
      ],
    }),
  );
  server.registerPrompt("test_prompt_with_image", { description: "A prompt with an image" }, () => ({
    messages: [
      { role: "user", content: { type: "image", data: PNG, mimeType: "image/png" } },
      { role: "user", content: { type: "text", text: "Please analyze the image above." } },
    ],
  }));
  return server;
}

/** Keeps every event of every stream so that a client can resume after Last-Event-ID. */
function memoryEventStore(): EventStore {
  const events: Array<{ id: string; stream: string; message: JSONRPCMessage }> = [];
  return {
    async storeEvent(stream, message) {
      const id = `${stream}_${String(events.length).padStart(8, "0")}`;
      events.push({ id, stream, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.find((e) => e.id === eventId)?.stream;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at === -1) throw new Error(`unknown event id ${lastEventId}`);
      const stream = (events[at] as { stream: string }).stream;
      for (const e of events.slice(at + 1)) if (e.stream === stream && Object.keys(e.message).length > 0) await send(e.id, e.message);
      return stream;
    },
  };
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** DNS-rebinding protection: a server on loopback answers only requests that name loopback. */
function rebindingRefusal(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  let hostname: string;
  try {
    hostname = new URL(`http://${host ?? ""}`).hostname;
  } catch {
    return `invalid Host header ${String(host)}`;
  }
  if (!LOOPBACK_NAMES.has(hostname)) return `Host ${hostname} is not a loopback name`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).hostname;
    } catch {
      return `invalid Origin header ${origin}`;
    }
    if (!LOOPBACK_NAMES.has(originHost)) return `Origin ${origin} is not a loopback origin`;
  }
  return undefined;
}

function sendError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

export async function startEverythingServer(options: { retryIntervalMs?: number } = {}): Promise<EverythingServer> {
  const calls: string[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Set<McpServer>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/mcp") return sendError(res, 404, -32601, "not found");
    const refusal = rebindingRefusal(req);
    if (refusal !== undefined) return sendError(res, 403, -32000, refusal);
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? transports.get(id) : undefined;
    if (transport === undefined) {
      if (typeof id === "string") return sendError(res, 404, -32001, "Session not found");
      if (req.method !== "POST") return sendError(res, 400, -32000, "no session: initialize first");
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: memoryEventStore(),
        retryInterval: options.retryIntervalMs ?? 500,
        onsessioninitialized: (sid) => void transports.set(sid, created),
      });
      created.onclose = () => {
        if (created.sessionId !== undefined) transports.delete(created.sessionId);
      };
      const server = buildServer(calls);
      servers.add(server);
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, -32603, (error as Error).message);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    async close() {
      for (const server of servers) await server.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const server = await startEverythingServer();
  process.stdout.write(`everything server at ${server.url}\n`);
}
