// Span attribute keys, shared by the request spans and the pipeline's check spans. OpenTelemetry
// semantic conventions where one exists, intentgate.* otherwise. Values are names, codes and ids.
export const ATTR = {
  method: "http.request.method",
  route: "http.route",
  status: "http.response.status_code",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  mcpMethod: "mcp.method.name",
  tool: "gen_ai.tool.name",
  routeKind: "intentgate.route.kind",
  upstream: "intentgate.upstream",
  decision: "intentgate.decision",
  reasonCode: "intentgate.reason_code",
  decisionId: "intentgate.decision_id",
  calls: "intentgate.tools_calls",
  decisions: "intentgate.decisions",
  reasonCodes: "intentgate.reason_codes",
  decisionIds: "intentgate.decision_ids",
  stage: "intentgate.check.stage",
  outcome: "intentgate.check.outcome",
} as const;
