// Generates docs/kubernetes/crd-reference.md from the CRDs in crds/: every field with its type,
// whether it is required, its description and its validations (CEL messages included), and the
// printer columns. `--check` fails when the committed file differs from what would be generated.
// A schema field without a description is an error: the reference must explain every field.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";

const ROOT = resolve(import.meta.dirname, "..");
export const CRDS_DIR = join(ROOT, "crds");
export const REFERENCE_PATH = join(ROOT, "docs/kubernetes/crd-reference.md");
const KIND_ORDER = ["Tenant", "ToolPolicy", "CapabilityGrant", "Budget", "TokenRevocation", "McpServer"];

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
}

interface Schema {
  type?: string;
  format?: string;
  description?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: Rule[];
}

interface Column {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{ name: string; additionalPrinterColumns?: Column[]; schema: { openAPIV3Schema: Schema } }>;
  };
}

export function loadCrds(dir = CRDS_DIR): Crd[] {
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => parse(readFileSync(join(dir, f), "utf8")) as Crd);
  return crds.sort((a, b) => KIND_ORDER.indexOf(a.spec.names.kind) - KIND_ORDER.indexOf(b.spec.names.kind));
}

export const code = (text: string): string => "`" + text.replaceAll("`", "'") + "`";
// Table cells: one line, pipes escaped, and <...> outside code spans escaped so it is not read as HTML.
export const cell = (text: string): string =>
  text
    .replace(/\s+/g, " ")
    .replaceAll("|", "\\|")
    .split("`")
    .map((part, i) => (i % 2 === 0 ? part.replaceAll("<", "&lt;").replaceAll(">", "&gt;") : part))
    .join("`")
    .trim();

function typeOf(s: Schema): string {
  if (s.type === "array") return `array of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && s.additionalProperties) return `map of ${typeOf(s.additionalProperties)}`;
  if (s.type === undefined) return s["x-kubernetes-preserve-unknown-fields"] ? "any JSON" : "any";
  return s.format ? `${s.type} (${s.format})` : s.type;
}

function ruleText(r: Rule): string {
  if (r.message === undefined && r.messageExpression !== undefined) {
    return `message computed by ${code(r.messageExpression)} [CEL: ${code(r.rule)}]`;
  }
  return `${r.message ?? "invalid"} [CEL: ${code(r.rule)}]`;
}

function constraints(s: Schema): string[] {
  const out: string[] = [];
  if (s.enum) out.push(`one of ${s.enum.map((v) => code(String(v))).join(", ")}`);
  if (s.default !== undefined) out.push(`default ${code(JSON.stringify(s.default))}`);
  if (s.pattern) out.push(`matches ${code(s.pattern)}`);
  const range = (what: string, min?: number, max?: number): void => {
    if (min !== undefined && max !== undefined) out.push(`${what} ${min} to ${max}`);
    else if (min !== undefined) out.push(`${what} at least ${min}`);
    else if (max !== undefined) out.push(`${what} at most ${max}`);
  };
  range("value", s.minimum, s.maximum);
  range("length", s.minLength, s.maxLength);
  range("items", s.minItems, s.maxItems);
  range("entries", s.minProperties, s.maxProperties);
  const listType = s["x-kubernetes-list-type"];
  if (listType === "set") out.push("items unique");
  if (listType === "map") out.push(`one item per ${(s["x-kubernetes-list-map-keys"] ?? []).map(code).join(", ")}`);
  if (s["x-kubernetes-preserve-unknown-fields"] && s.type !== undefined) out.push("unknown fields kept");
  for (const r of s["x-kubernetes-validations"] ?? []) out.push(ruleText(r));
  return out;
}

interface Row {
  path: string;
  schema: Schema;
  required: boolean;
}

/** Every field under a schema, depth first, with map values as `name{}` and list items as `name[]`. */
function rows(schema: Schema, path: string, out: Row[]): Row[] {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const childPath = path ? `${path}.${name}` : name;
    if (child.description === undefined) throw new Error(`${childPath} has no description`);
    out.push({ path: childPath, schema: child, required: (schema.required ?? []).includes(name) });
    descend(child, childPath, out);
  }
  return out;
}

function descend(schema: Schema, path: string, out: Row[]): void {
  if (schema.properties) rows(schema, path, out);
  const inner = schema.items ?? schema.additionalProperties;
  if (inner === undefined) return;
  const innerPath = path + (schema.items ? "[]" : "{}");
  // The list items or map values get a row of their own when they carry constraints, then their fields.
  if (constraints(inner).length > 0) {
    if (inner.description === undefined) throw new Error(`${innerPath} has no description`);
    out.push({ path: innerPath, schema: inner, required: false });
  }
  if (inner.properties) rows(inner, innerPath, out);
}

function fieldTable(schema: Schema, root: string): string[] {
  const lines = ["| Field | Type | Required | Description | Validation |", "|---|---|---|---|---|"];
  for (const row of rows(schema, "", [])) {
    const description = row.schema.description ?? "";
    lines.push(
      `| ${code(`${root}.${row.path}`)} | ${cell(typeOf(row.schema))} | ${row.required ? "yes" : ""} | ${cell(description)} | ${cell(constraints(row.schema).join("; "))} |`,
    );
  }
  return lines;
}

function render(crd: Crd): string[] {
  const { names, group, scope } = crd.spec;
  const version = crd.spec.versions[0]!;
  const root = version.schema.openAPIV3Schema;
  const spec = root.properties?.["spec"];
  const status = root.properties?.["status"];
  if (!spec || !status) throw new Error(`${names.kind}: spec or status schema missing`);
  const out = [
    `## ${names.kind}`,
    "",
    cell(root.description ?? ""),
    "",
    `- API version: ${code(`${group}/${version.name}`)}, scope: ${scope === "Cluster" ? "cluster" : "namespaced"}`,
    `- Names: ${code(names.plural)}, ${code(names.singular)}; short names: ${(names.shortNames ?? []).map(code).join(", ")}; categories: ${(names.categories ?? []).map(code).join(", ")}`,
    "",
    "`kubectl get` columns (priority 1 shows with `-o wide`):",
    "",
    "| Column | Type | JSONPath | Shown | Description |",
    "|---|---|---|---|---|",
    ...(version.additionalPrinterColumns ?? []).map(
      (c) => `| ${c.name} | ${c.type} | ${code(c.jsonPath)} | ${c.priority ? "wide" : "always"} | ${cell(c.description ?? "how long ago it was created")} |`,
    ),
    "",
  ];
  const objectRules = [...(root["x-kubernetes-validations"] ?? []), ...(spec["x-kubernetes-validations"] ?? [])];
  if (objectRules.length > 0) {
    out.push("Rules across fields:", "", ...objectRules.map((r) => `- ${ruleText(r)}`), "");
  }
  out.push("### Spec", "", cell(spec.description ?? ""), "", ...fieldTable(spec, "spec"), "");
  out.push("### Status", "", cell(status.description ?? ""), "", ...fieldTable(status, "status"), "");
  return out;
}

export function renderCrdReference(dir = CRDS_DIR): string {
  const crds = loadCrds(dir);
  const lines = [
    "# CRD reference",
    "",
    "<!-- Generated by scripts/crd-docs.ts from crds/*.yaml. Do not edit: change the CRDs and run `node scripts/crd-docs.ts`. -->",
    "",
    "IntentGate's custom resources, group `intentgate.dev`, version `v1alpha1`. A Tenant is cluster-scoped and owns",
    "namespaces; every other kind is namespaced and belongs to the tenant that owns its namespace. An agent is a",
    "service account, named `<namespace>/<serviceaccount>`. The API server enforces every validation below at",
    "`kubectl apply` time; the controller reports what only it can check (Rego compile errors, a namespace claimed",
    "by two tenants, a caveat the token format refuses) in each object's `Ready` condition.",
    "",
    "Every kind has a status subresource with `observedGeneration` and `conditions` (the standard",
    "`metav1.Condition` shape). `kubectl get intentgate` lists every kind at once.",
    "",
    ...crds.map((c) => `- [${c.spec.names.kind}](#${c.spec.names.kind.toLowerCase()})`),
    "",
  ];
  for (const crd of crds) lines.push(...render(crd));
  return lines.join("\n").replace(/\n+$/, "\n");
}

if (import.meta.main) {
  const text = renderCrdReference();
  if (process.argv.includes("--check")) {
    const committed = readFileSync(REFERENCE_PATH, "utf8");
    if (committed !== text) {
      console.error(`${REFERENCE_PATH} is stale: run node scripts/crd-docs.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(REFERENCE_PATH, text);
  }
}
