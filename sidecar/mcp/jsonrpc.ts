// JSON-RPC 2.0 as MCP uses it: classify and validate each message exactly, and build the answers
// the sidecar sends itself (protocol errors and refused tool calls).

export type JsonRpcId = string | number;

export type Message =
  | { kind: "request"; id: JsonRpcId; method: string; params: Record<string, unknown> | undefined }
  | { kind: "notification"; method: string; params: Record<string, unknown> | undefined }
  | { kind: "response"; id: JsonRpcId };

export class ProtocolError extends Error {
  readonly rpcCode: number;
  readonly reason: string;
  constructor(rpcCode: number, reason: string, message: string) {
    super(message);
    this.rpcCode = rpcCode;
    this.reason = reason;
  }
}

export const RPC = { parseError: -32700, invalidRequest: -32600, methodNotFound: -32601, invalidParams: -32602, internal: -32603 } as const;

/** Methods a client may send to a server, across the MCP revisions the sidecar understands. */
export const CLIENT_METHODS: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "tasks/get",
  "tasks/list",
  "tasks/result",
  "tasks/cancel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/roots/list_changed",
  "notifications/tasks/status",
]);

const REQUEST_KEYS = new Set(["jsonrpc", "id", "method", "params"]);
const RESPONSE_KEYS = new Set(["jsonrpc", "id", "result", "error"]);

const invalid = (reason: string, message: string): ProtocolError => new ProtocolError(RPC.invalidRequest, reason, message);

export function classifyMessage(value: unknown): Message {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("not_an_object", "a JSON-RPC message must be an object");
  const m = value as Record<string, unknown>;
  if (m["jsonrpc"] !== "2.0") throw invalid("bad_jsonrpc_version", 'a JSON-RPC message needs "jsonrpc": "2.0"');
  const hasId = Object.hasOwn(m, "id");
  if (hasId && !isId(m["id"])) throw invalid("bad_id", "a JSON-RPC id must be a string or an integer");
  if (Object.hasOwn(m, "method")) {
    for (const key of Object.keys(m)) if (!REQUEST_KEYS.has(key)) throw invalid("unknown_member", `unknown member "${key}"`);
    const method = m["method"];
    if (typeof method !== "string") throw invalid("bad_method", "method must be a string");
    if (!CLIENT_METHODS.has(method)) {
      throw new ProtocolError(RPC.methodNotFound, "method_not_allowed", `method "${method}" is not an MCP client method this gateway forwards`);
    }
    const params = m["params"];
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
      throw new ProtocolError(RPC.invalidParams, "bad_params", "params must be an object");
    }
    const p = params as Record<string, unknown> | undefined;
    if (method.startsWith("notifications/")) {
      if (hasId) throw invalid("notification_with_id", `${method} is a notification and must not carry an id`);
      return { kind: "notification", method, params: p };
    }
    if (!hasId) throw invalid("request_without_id", `${method} is a request and needs an id`);
    return { kind: "request", id: m["id"] as JsonRpcId, method, params: p };
  }
  for (const key of Object.keys(m)) if (!RESPONSE_KEYS.has(key)) throw invalid("unknown_member", `unknown member "${key}"`);
  if (!hasId || Object.hasOwn(m, "result") === Object.hasOwn(m, "error")) {
    throw invalid("bad_response", "a JSON-RPC response needs an id and exactly one of result or error");
  }
  return { kind: "response", id: m["id"] as JsonRpcId };
}

function isId(id: unknown): boolean {
  return typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));
}

/** The name and arguments of a tools/call, validated. */
export function toolCallParams(params: Record<string, unknown> | undefined): { name: string; arguments: Record<string, unknown>; meta: Record<string, unknown> | undefined } {
  const name = params?.["name"];
  if (typeof name !== "string" || name.length === 0 || name.length > 256) {
    throw new ProtocolError(RPC.invalidParams, "bad_tool_name", "tools/call needs params.name, a tool name of 1-256 characters");
  }
  const args = params?.["arguments"] ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new ProtocolError(RPC.invalidParams, "bad_arguments", "tools/call params.arguments must be an object");
  }
  const meta = params?.["_meta"];
  if (meta !== undefined && (typeof meta !== "object" || meta === null || Array.isArray(meta))) {
    throw new ProtocolError(RPC.invalidParams, "bad_meta", "params._meta must be an object");
  }
  return { name, arguments: args as Record<string, unknown>, meta: meta as Record<string, unknown> | undefined };
}

export function errorResponse(id: JsonRpcId | null, code: number, reason: string, message: string): object {
  return { jsonrpc: "2.0", id, error: { code, message, data: { reason } } };
}

export const DECISION_META_KEY = "dev.intentgate/decision";

/** A refused tools/call answered as a tool error, so MCP clients carry on and can show the reason. */
export function refusalResponse(id: JsonRpcId, refusal: { decision: "block" | "escalate"; code: string; message: string; decisionId: string }): object {
  const verb = refusal.decision === "escalate" ? "needs approval" : "was refused";
  return {
    jsonrpc: "2.0",
    id,
    result: {
      content: [{ type: "text", text: `IntentGate: this call ${verb} [${refusal.code}]: ${refusal.message} (decision ${refusal.decisionId})` }],
      isError: true,
      _meta: { [DECISION_META_KEY]: { decision: refusal.decision, code: refusal.code, reason: refusal.message, decision_id: refusal.decisionId } },
    },
  };
}
