// The sidecar injector's decision, as a pure function: a pod being created, its namespace, the
// McpServers of that namespace and the injector's settings in; an RFC 6902 patch, a skip (with its
// reason) or a denial out. The webhook server only adapts this to AdmissionReview.
import type { V1Container, V1EnvVar, V1Pod, V1ResourceRequirements, V1Volume } from "@kubernetes/client-node";
import type { McpServer } from "../api/types.ts";
import { buildRedirectContainer, buildSidecarContainer, SIDECAR_NAME, REDIRECT_NAME } from "./containers.ts";

export const LABEL_INJECT = "intentgate.dev/inject";
export const ANNOTATION_INJECT = "intentgate.dev/inject";
export const ANNOTATION_INTERCEPTION = "intentgate.dev/interception";
export const ANNOTATION_SERVER_ENV = "intentgate.dev/server-env";
export const ANNOTATION_HTTP_PROXY = "intentgate.dev/http-proxy";
export const ANNOTATION_INJECTED = "intentgate.dev/injected";

export type Mode = "redirect" | "env";

export interface InjectorSettings {
  image: string;
  redirectImage: string;
  resources?: V1ResourceRequirements;
  ports: { mcp: number; admin: number };
  controllerUrl: string;
  /** PEM of the CA that signed the controller's serving certificate (its API is HTTPS). */
  controllerCa?: string;
  /** The controller has a lease ledger: sidecars take budget slices from it. */
  budgetLeases?: boolean;
  /** The controller's own namespace: never injected. */
  controllerNamespace: string;
  defaultMode: Mode;
  /** False where pods may not hold NET_ADMIN: redirect is then refused, env is the default. */
  allowRedirect: boolean;
  proxyUid: number;
}

export interface NamespaceInfo {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface JsonPatchOp {
  op: "add" | "replace";
  path: string;
  value: unknown;
}

export type InjectResult =
  | { action: "patch"; mode: Mode; patch: JsonPatchOp[] }
  | { action: "skip"; reason: string }
  | { action: "deny"; reason: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function injectPod(pod: V1Pod, ns: NamespaceInfo, servers: readonly McpServer[], settings: InjectorSettings): InjectResult {
  const podLabels = pod.metadata?.labels ?? {};
  const podAnnotations = pod.metadata?.annotations ?? {};
  if (ns.name === "kube-system" || ns.name === settings.controllerNamespace) return { action: "skip", reason: `namespace ${ns.name} is never injected` };
  if (podAnnotations[ANNOTATION_INJECT] === "false") return { action: "skip", reason: `pod opted out (${ANNOTATION_INJECT}: "false")` };
  if (ns.labels?.[LABEL_INJECT] !== "enabled" && podLabels[LABEL_INJECT] !== "enabled") {
    return { action: "skip", reason: `neither the namespace nor the pod is labelled ${LABEL_INJECT}=enabled` };
  }
  const spec = pod.spec;
  if (spec === undefined) return { action: "deny", reason: "the pod has no spec" };
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  if (all.some((c) => c.name === SIDECAR_NAME || c.name === REDIRECT_NAME)) return { action: "skip", reason: "already injected" };
  if (spec.hostNetwork === true) return { action: "deny", reason: `pods on the host network cannot be injected; opt out with ${ANNOTATION_INJECT}: "false"` };

  const mode = modeOf(ns, podAnnotations, settings);
  if (!mode.ok) return { action: "deny", reason: mode.reason };
  const patch: JsonPatchOp[] = [];
  const front: V1Container[] = [];
  if (mode.mode === "redirect") {
    const destinations = redirectDestinations(servers);
    if (destinations.length === 0) return { action: "deny", reason: `redirect interception, but no McpServer in namespace ${ns.name} declares a plain-HTTP authority` };
    front.push(buildRedirectContainer(settings, destinations));
  } else {
    const env = agentEnv(podAnnotations, settings.ports.mcp);
    if (!env.ok) return { action: "deny", reason: env.reason };
    spec.containers.forEach((c, i) => patch.push(...envPatch(c, i, env.vars)));
  }
  front.push(buildSidecarContainer(settings, mode.mode));
  // Ours first: the redirect rules and a ready sidecar exist before any of the pod's own containers run.
  if (spec.initContainers === undefined) patch.unshift({ op: "add", path: "/spec/initContainers", value: front });
  else patch.unshift(...front.map((c, i): JsonPatchOp => ({ op: "add", path: `/spec/initContainers/${i}`, value: c })));
  patch.push(...listPatch("/spec/volumes", spec.volumes, volumes()));
  // A projected service-account token needs a named account; the ServiceAccount admission plugin
  // usually sets it before webhooks run, but the sidecar's identity must not depend on that.
  if (spec.serviceAccountName === undefined) patch.push({ op: "add", path: "/spec/serviceAccountName", value: spec.serviceAccount ?? "default" });
  if (pod.metadata?.annotations === undefined) patch.push({ op: "add", path: "/metadata/annotations", value: { [ANNOTATION_INJECTED]: mode.mode } });
  else patch.push({ op: "add", path: `/metadata/annotations/${ANNOTATION_INJECTED.replace("/", "~1")}`, value: mode.mode });
  return { action: "patch", mode: mode.mode, patch };
}

/** The namespace's annotation wins (a pod cannot lift its namespace's choice), then the pod's, then the default. */
function modeOf(ns: NamespaceInfo, podAnnotations: Record<string, string>, settings: InjectorSettings): { ok: true; mode: Mode } | { ok: false; reason: string } {
  const asked = ns.annotations?.[ANNOTATION_INTERCEPTION] ?? podAnnotations[ANNOTATION_INTERCEPTION];
  if (asked !== undefined && asked !== "redirect" && asked !== "env") return { ok: false, reason: `${ANNOTATION_INTERCEPTION} must be "redirect" or "env", not ${JSON.stringify(asked)}` };
  const mode = asked ?? (settings.allowRedirect ? settings.defaultMode : "env");
  if (mode === "redirect" && !settings.allowRedirect) return { ok: false, reason: "redirect interception is not allowed in this cluster (it needs NET_ADMIN in an init container); use env" };
  return { ok: true, mode };
}

/** host:port of every declared plain-HTTP authority: an https URL's own is left out (the agent would speak TLS to the sidecar). */
export function redirectDestinations(servers: readonly McpServer[]): string[] {
  const out = new Set<string>();
  for (const s of servers) {
    for (const endpoint of [s.spec.url, s.spec.sseUrl]) {
      let url: URL;
      try {
        url = new URL(endpoint ?? "");
      } catch {
        continue;
      }
      if (url.protocol === "http:") out.add(`${url.hostname}:${url.port || "80"}`);
    }
    for (const host of s.spec.hosts ?? []) out.add(/:\d+$/.test(host) ? host : `${host}:80`);
  }
  return [...out].sort();
}

function agentEnv(annotations: Record<string, string>, port: number): { ok: true; vars: V1EnvVar[] } | { ok: false; reason: string } {
  const vars: V1EnvVar[] = [];
  const spec = annotations[ANNOTATION_SERVER_ENV];
  for (const item of spec === undefined ? [] : spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [server, name, extra] = item.split("=").map((s) => s.trim());
    if (server === undefined || name === undefined || extra !== undefined || !SERVER_NAME.test(server) || !ENV_NAME.test(name)) {
      return { ok: false, reason: `${ANNOTATION_SERVER_ENV}: "${item}" is not server=ENV_NAME` };
    }
    vars.push({ name, value: `http://127.0.0.1:${port}/mcp/${server}` });
  }
  const proxy = annotations[ANNOTATION_HTTP_PROXY];
  if (proxy !== undefined && proxy !== "true" && proxy !== "false") return { ok: false, reason: `${ANNOTATION_HTTP_PROXY} must be "true" or "false"` };
  if (proxy === "true") vars.push({ name: "HTTP_PROXY", value: `http://127.0.0.1:${port}` }, { name: "http_proxy", value: `http://127.0.0.1:${port}` });
  return { ok: true, vars };
}

/** Sets each variable in one container: replaced where the container already sets it, added otherwise. */
function envPatch(container: V1Container, index: number, vars: readonly V1EnvVar[]): JsonPatchOp[] {
  if (vars.length === 0) return [];
  const base = `/spec/containers/${index}/env`;
  if (container.env === undefined) return [{ op: "add", path: base, value: vars }];
  return vars.map((v) => {
    const at = (container.env ?? []).findIndex((e) => e.name === v.name);
    return at === -1 ? { op: "add", path: `${base}/-`, value: v } : { op: "replace", path: `${base}/${at}`, value: v };
  });
}

function listPatch(path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]): JsonPatchOp[] {
  if (existing === undefined) return [{ op: "add", path, value: items }];
  return items.map((value) => ({ op: "add", path: `${path}/-`, value }));
}

function volumes(): V1Volume[] {
  return [
    { name: "intentgate-token", projected: { sources: [{ serviceAccountToken: { audience: "intentgate", expirationSeconds: 3600, path: "token" } }] } },
    { name: "intentgate-state", emptyDir: {} },
  ];
}
