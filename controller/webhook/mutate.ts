// From one AdmissionReview request to its response: pods being created are handed to injectPod
// with their namespace and that namespace's McpServers; anything else is allowed unchanged.
import type { CoreV1Api, CustomObjectsApi, V1Pod } from "@kubernetes/client-node";
import { GROUP, KINDS, VERSION, type McpServer } from "../api/types.ts";
import { injectPod, LABEL_INJECT, type InjectorSettings, type NamespaceInfo } from "./inject.ts";

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

export interface ClusterLookup {
  namespace(name: string): Promise<NamespaceInfo>;
  servers(namespace: string): Promise<McpServer[]>;
}

/** Reads straight from the API server; a controller with informers can pass its caches instead. */
export function apiLookup(core: CoreV1Api, custom: CustomObjectsApi): ClusterLookup {
  return {
    async namespace(name) {
      const ns = await core.readNamespace({ name });
      return { name, ...(ns.metadata?.labels ? { labels: ns.metadata.labels } : {}), ...(ns.metadata?.annotations ? { annotations: ns.metadata.annotations } : {}) };
    },
    async servers(namespace) {
      const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.McpServer.plural })) as { items?: McpServer[] };
      return list.items ?? [];
    },
  };
}

export type PodMutator = (request: AdmissionRequest) => Promise<AdmissionResponse & { decision: string }>;

export function createPodMutator(lookup: ClusterLookup, settings: InjectorSettings): PodMutator {
  return async (request) => {
    const { uid } = request;
    const isPod = request.kind?.group === "" && request.kind.kind === "Pod";
    if (!isPod || request.operation !== "CREATE") return { uid, allowed: true, decision: "not a pod create" };
    const pod = request.object as V1Pod | undefined;
    const namespace = request.namespace ?? pod?.metadata?.namespace;
    if (pod === undefined || typeof pod !== "object" || namespace === undefined) {
      return { uid, allowed: false, status: { code: 400, message: "intentgate: the review carries no pod or namespace" }, decision: "malformed" };
    }
    // kube-system and our own namespace are decided without a lookup (they may be unreadable while the cluster starts).
    const excluded = namespace === "kube-system" || namespace === settings.controllerNamespace;
    const ns = excluded ? { name: namespace } : await lookup.namespace(namespace);
    const wanted = !excluded && (ns.labels?.[LABEL_INJECT] === "enabled" || pod.metadata?.labels?.[LABEL_INJECT] === "enabled");
    const result = injectPod(pod, ns, wanted ? await lookup.servers(namespace) : [], settings);
    if (result.action === "skip") return { uid, allowed: true, decision: `skip: ${result.reason}` };
    if (result.action === "deny") return { uid, allowed: false, status: { code: 403, message: `intentgate: ${result.reason}` }, decision: `deny: ${result.reason}` };
    return { uid, allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(result.patch)).toString("base64"), decision: `inject: ${result.mode}` };
  };
}
