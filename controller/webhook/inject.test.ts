import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { McpServer } from "../api/types.ts";
import { injectPod, redirectDestinations, type InjectorSettings, type InjectResult, type JsonPatchOp, type NamespaceInfo } from "./inject.ts";

const settings: InjectorSettings = {
  image: "intentgate/sidecar@sha256:aaaa",
  redirectImage: "intentgate/redirect@sha256:bbbb",
  ports: { mcp: 7070, admin: 7071 },
  controllerUrl: "https://intentgate-controller.intentgate-system.svc:8443",
  controllerNamespace: "intentgate-system",
  defaultMode: "redirect",
  allowRedirect: true,
  proxyUid: 1337,
};
const labelled: NamespaceInfo = { name: "agents", labels: { "intentgate.dev/inject": "enabled" } };
const server = (name: string, url: string, hosts?: string[]): McpServer => ({ apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name, namespace: "agents" }, spec: { url, ...(hosts ? { hosts } : {}) } });
const servers = [server("payments", "http://payments.tools.svc:8080/mcp", ["payments:8080"]), server("search", "https://search.example/mcp", ["search.tools.svc"])];
const pod = (extra: { labels?: Record<string, string>; annotations?: Record<string, string>; containers?: V1Container[]; init?: V1Container[]; hostNetwork?: boolean } = {}): V1Pod => ({
  metadata: { name: "agent", ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
  spec: {
    containers: extra.containers ?? [{ name: "agent", image: "agent:1" }],
    ...(extra.init ? { initContainers: extra.init } : {}),
    ...(extra.hostNetwork ? { hostNetwork: true } : {}),
  },
});

/** Applies add/replace operations the way the API server does (enough for these patches). */
function apply(doc: unknown, patch: readonly JsonPatchOp[]): V1Pod {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of patch) {
    const parts = op.path.slice(1).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop() as string;
    type Node = Record<string, unknown> | unknown[];
    let at: Node = out;
    for (const p of parts) at = (at as Record<string, unknown>)[p] as Node;
    if (Array.isArray(at)) {
      if (op.op === "replace") at[Number(last)] = op.value;
      else at.splice(last === "-" ? at.length : Number(last), 0, op.value);
    } else {
      if (op.op === "replace") assert.ok(last in at, `replace of a missing ${op.path}`);
      at[last] = op.value;
    }
  }
  return out as V1Pod;
}
const patched = (result: InjectResult, original: V1Pod): V1Pod => {
  assert.equal(result.action, "patch", JSON.stringify(result));
  return apply(original, result.action === "patch" ? result.patch : []);
};
const envOf = (c: V1Container | undefined): Record<string, string | undefined> => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

test("a labelled namespace gets the native sidecar and, in redirect mode, the redirect init container first", () => {
  const p = pod({ init: [{ name: "migrate", image: "m:1" }] });
  const out = patched(injectPod(p, labelled, servers, settings), p);
  const names = out.spec?.initContainers?.map((c) => c.name);
  assert.deepEqual(names, ["intentgate-redirect", "intentgate-sidecar", "migrate"]);
  const [redirect, sidecar] = out.spec?.initContainers ?? [];
  assert.equal(sidecar?.restartPolicy, "Always");
  assert.deepEqual(sidecar?.command, ["node", "/app/intentgate.mjs", "sidecar", "--kubernetes"]);
  assert.equal(sidecar?.securityContext?.runAsUser, 1337);
  assert.equal(sidecar?.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(sidecar?.startupProbe?.httpGet?.path, "/readyz");
  assert.equal(envOf(sidecar)["INTENTGATE_INTERCEPTION"], "redirect");
  assert.equal(envOf(sidecar)["INTENTGATE_TOKEN_FILE"], "/var/run/secrets/intentgate/token");
  // The downward API gives the sidecar its pod's name and UID: its audit stream is named for both.
  const fieldRefs = Object.fromEntries((sidecar?.env ?? []).filter((e) => e.valueFrom?.fieldRef).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  assert.equal(fieldRefs["INTENTGATE_POD_NAME"], "metadata.name");
  assert.equal(fieldRefs["INTENTGATE_POD_UID"], "metadata.uid");
  assert.deepEqual(redirect?.securityContext?.capabilities, { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] });
  assert.equal(redirect?.securityContext?.runAsUser, 0);
  assert.equal(envOf(redirect)["INTENTGATE_REDIRECT_DESTINATIONS"], "payments.tools.svc:8080,payments:8080,search.tools.svc:80");
  const token = out.spec?.volumes?.find((v) => v.name === "intentgate-token");
  assert.deepEqual(token?.projected?.sources?.[0]?.serviceAccountToken, { audience: "intentgate", expirationSeconds: 3600, path: "token" });
  assert.ok(out.spec?.volumes?.some((v) => v.name === "intentgate-state" && v.emptyDir !== undefined));
  assert.equal(out.metadata?.annotations?.["intentgate.dev/injected"], "redirect");
  assert.deepEqual(out.spec?.containers, p.spec?.containers, "agent containers untouched in redirect mode");
  assert.equal(out.spec?.serviceAccountName, "default", "the projected token needs a named service account");
});

test("a labelled pod in an unlabelled namespace is injected; an unlabelled pod there is not", () => {
  const plain: NamespaceInfo = { name: "apps" };
  assert.equal(injectPod(pod({ labels: { "intentgate.dev/inject": "enabled" } }), plain, servers, settings).action, "patch");
  assert.equal(injectPod(pod(), plain, servers, settings).action, "skip");
  assert.equal(injectPod(pod({ labels: { "intentgate.dev/inject": "yes" } }), plain, servers, settings).action, "skip");
});

test("the opt-out annotation, kube-system and the controller's namespace are never injected", () => {
  assert.deepEqual(injectPod(pod({ annotations: { "intentgate.dev/inject": "false" } }), labelled, servers, settings).action, "skip");
  for (const name of ["kube-system", "intentgate-system"]) {
    const r = injectPod(pod({ labels: { "intentgate.dev/inject": "enabled" } }), { name, labels: { "intentgate.dev/inject": "enabled" } }, servers, settings);
    assert.equal(r.action, "skip", name);
  }
});

test("injecting twice changes nothing", () => {
  const p = pod();
  const once = patched(injectPod(p, labelled, servers, settings), p);
  assert.deepEqual(injectPod(once, labelled, servers, settings), { action: "skip", reason: "already injected" });
});

test("mode: the namespace's annotation wins over the pod's, which wins over the default", () => {
  const mode = (ns: Record<string, string> | undefined, p: Record<string, string> | undefined, s = settings): string | undefined => {
    const r = injectPod(pod(p ? { annotations: p } : {}), { ...labelled, ...(ns ? { annotations: ns } : {}) }, servers, s);
    return r.action === "patch" ? r.mode : r.action;
  };
  const env = { "intentgate.dev/interception": "env" };
  const redirect = { "intentgate.dev/interception": "redirect" };
  assert.equal(mode(undefined, undefined), "redirect");
  assert.equal(mode(undefined, env), "env");
  assert.equal(mode(redirect, env), "redirect");
  assert.equal(mode(env, redirect), "env");
  assert.equal(mode(undefined, undefined, { ...settings, defaultMode: "env" }), "env");
  assert.equal(mode(undefined, undefined, { ...settings, allowRedirect: false }), "env", "env where redirect is not allowed");
  assert.equal(mode(undefined, redirect, { ...settings, allowRedirect: false }), "deny", "asking for redirect where it is not allowed");
  assert.equal(mode(undefined, { "intentgate.dev/interception": "iptables" }), "deny");
});

test("env mode: named variables and HTTP_PROXY in every agent container, existing values replaced, NO_PROXY untouched", () => {
  const p = pod({
    annotations: { "intentgate.dev/interception": "env", "intentgate.dev/server-env": "payments=PAYMENTS_MCP_URL, search=SEARCH_URL", "intentgate.dev/http-proxy": "true" },
    containers: [
      { name: "agent", image: "a:1", env: [{ name: "PAYMENTS_MCP_URL", value: "http://payments:8080/mcp" }, { name: "NO_PROXY", value: "10.0.0.0/8" }] },
      { name: "helper", image: "h:1" },
    ],
  });
  const out = patched(injectPod(p, labelled, servers, settings), p);
  for (const c of out.spec?.containers ?? []) {
    const env = envOf(c);
    assert.equal(env["PAYMENTS_MCP_URL"], "http://127.0.0.1:7070/mcp/payments", c.name);
    assert.equal(env["SEARCH_URL"], "http://127.0.0.1:7070/mcp/search", c.name);
    assert.equal(env["HTTP_PROXY"], "http://127.0.0.1:7070", c.name);
    assert.equal(env["http_proxy"], "http://127.0.0.1:7070", c.name);
  }
  assert.equal(envOf(out.spec?.containers[0])["NO_PROXY"], "10.0.0.0/8");
  assert.equal(out.spec?.containers[0]?.env?.filter((e) => e.name === "PAYMENTS_MCP_URL").length, 1);
  assert.deepEqual(out.spec?.initContainers?.map((c) => c.name), ["intentgate-sidecar"], "no privileged init container in env mode");
  assert.equal(envOf(out.spec?.initContainers?.[0])["INTENTGATE_INTERCEPTION"], "env");
});

test("env mode without http-proxy sets no proxy variables; bad annotations are denied", () => {
  const p = pod({ annotations: { "intentgate.dev/interception": "env", "intentgate.dev/server-env": "payments=PAYMENTS_MCP_URL" } });
  const env = envOf(patched(injectPod(p, labelled, servers, settings), p).spec?.containers[0]);
  assert.equal(env["HTTP_PROXY"], undefined);
  for (const bad of ["payments", "payments=1BAD", "Payments=X", "a=b=c"]) {
    const r = injectPod(pod({ annotations: { "intentgate.dev/interception": "env", "intentgate.dev/server-env": bad } }), labelled, servers, settings);
    assert.equal(r.action, "deny", bad);
  }
  const proxy = injectPod(pod({ annotations: { "intentgate.dev/interception": "env", "intentgate.dev/http-proxy": "yes" } }), labelled, servers, settings);
  assert.equal(proxy.action, "deny");
});

test("host-network pods and redirect with nothing to redirect are denied, not silently left unprotected", () => {
  assert.equal(injectPod(pod({ hostNetwork: true }), labelled, servers, settings).action, "deny");
  assert.equal(injectPod(pod(), labelled, [server("s", "https://s.example/mcp")], settings).action, "deny");
});

test("redirect destinations: plain-HTTP URLs with their port, declared hosts (port 80 by default), no https URL", () => {
  assert.deepEqual(redirectDestinations([server("a", "http://a.svc/mcp", ["a:9000", "alias"]), server("b", "https://b.example:8443/mcp"), server("c", "not a url"), { ...server("d", "http://d:81/mcp"), spec: { url: "http://d:81/mcp", sseUrl: "http://d-sse:82/sse" } }]), ["a.svc:80", "a:9000", "alias:80", "d-sse:82", "d:81"]);
});
