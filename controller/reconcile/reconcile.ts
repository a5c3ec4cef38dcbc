// Level-based reconcile of one object: read what is, write status (and, for grants, Secrets) to match.
// Invalid specs end as a False Ready condition (TerminalError: no retry loop); transient failures
// throw and the queue retries them with backoff. Returns when to look again, if ever. A deleted grant
// is finalized instead (its tokens revoked), and a deleted grant's TokenRevocation swept once expired.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { parseDurationSeconds } from "../../wire/duration.ts";
import { API_VERSION, KINDS, type Budget, type CapabilityGrant, type Condition, type Kind, type McpServer, type Tenant, type ToolPolicy } from "../api/types.ts";
import { kubeJson, KubeApiError } from "../kube/client.ts";
import type { KubeObject } from "../kube/informer.ts";
import { TerminalError } from "../kube/queue.ts";
import type { LeaseService } from "../leases/index.ts";
import type { ControllerMetrics } from "../metrics.ts";
import type { SidecarCounts } from "../serve/replica-report.ts";
import { contestedNamespaces, tenantOf, type ClusterView, type CompiledPolicy } from "../snapshot/build.ts";
import { finalizeGrant, sweepRevocation } from "./grant-deletion.ts";
import { reconcileGrant } from "./grants.ts";

export interface ReconcileDeps {
  kc: KubeConfig;
  view: ClusterView;
  /** Sidecars over every replica (policy status shows how many loaded its version). */
  sidecars: () => SidecarCounts;
  compiled: ReadonlyMap<string, { generation: number; result: CompiledPolicy | { errors: string[] } }>;
  log: Logger;
  metrics: ControllerMetrics;
  /** The lease ledger, when the controller has a database: Budget status shows what is in use. */
  leases?: Pick<LeaseService, "usage">;
}

type Status = Record<string, unknown> & { conditions?: Condition[] };

export async function reconcileObject(deps: ReconcileDeps, kind: Kind, object: KubeObject): Promise<number | undefined> {
  const o = object as unknown as { metadata: { name: string; namespace?: string; generation?: number; deletionTimestamp?: string }; spec: unknown; status?: Status };
  const generation = o.metadata.generation ?? 0;
  if (kind === "CapabilityGrant" && o.metadata.deletionTimestamp !== undefined) return grantDeleted(deps, object as unknown as CapabilityGrant);
  const sweep = kind === "TokenRevocation" ? await sweepRevocation(deps.kc, object, Math.floor(Date.now() / 1000)) : undefined;
  if (sweep === "deleted") return undefined;
  let status: Status;
  let requeueAfterMs: number | undefined;
  try {
    ({ status, requeueAfterMs } = await statusFor(deps, kind, object));
    if (sweep !== undefined) requeueAfterMs = Math.min(sweep, requeueAfterMs ?? Infinity);
    status["conditions"] = withCondition(o.status?.conditions, { type: "Ready", status: "True", reason: "Reconciled", message: "", observedGeneration: generation });
  } catch (error) {
    if (!(error instanceof TerminalError)) throw error;
    status = { conditions: withCondition(o.status?.conditions, { type: "Ready", status: "False", reason: error.code, message: error.message, observedGeneration: generation }) };
    await patchStatus(deps.kc, kind, o.metadata, { ...status, observedGeneration: generation });
    throw error;
  }
  await patchStatus(deps.kc, kind, o.metadata, { ...status, observedGeneration: generation });
  return requeueAfterMs;
}

/** Before a deleted grant goes, its tokens are revoked; until then it stays, and its status says what holds it. */
async function grantDeleted(deps: ReconcileDeps, grant: CapabilityGrant): Promise<number | undefined> {
  try {
    return (await finalizeGrant(deps.kc, deps.view, grant, Math.floor(Date.now() / 1000))) === "waiting" ? 500 : undefined;
  } catch (error) {
    const message = `deleted, but its tokens are not yet revoked by a TokenRevocation: ${(error as Error).message}`;
    const conditions = withCondition(grant.status?.conditions, { type: "Ready", status: "False", reason: "RevocationFailed", message, observedGeneration: grant.metadata.generation ?? 0 });
    await patchStatus(deps.kc, "CapabilityGrant", grant.metadata, { conditions }).catch(() => undefined); // the retry matters, not this
    throw error;
  }
}

async function statusFor(deps: ReconcileDeps, kind: Kind, object: KubeObject): Promise<{ status: Status; requeueAfterMs?: number }> {
  const namespace = object.metadata.namespace;
  if (kind !== "Tenant" && namespace !== undefined && tenantOf(deps.view, namespace) === undefined) {
    throw new TerminalError("NoTenant", `no single Tenant lists namespace "${namespace}" in spec.namespaces (none, or more than one)`);
  }
  switch (kind) {
    case "ToolPolicy": {
      const p = object as unknown as ToolPolicy;
      const c = deps.compiled.get(p.metadata.uid ?? "");
      if (c === undefined || c.generation !== p.metadata.generation) return { status: {}, requeueAfterMs: 1000 }; // compiling
      if ("errors" in c.result) throw new TerminalError("CompileFailed", c.result.errors.join("\n"));
      const version = c.result.version;
      const { selected, loaded } = deps.sidecars().policy(`${p.metadata.namespace}/${p.metadata.name}`, version);
      return { status: { version, loadedBy: loaded, selectedSidecars: selected } };
    }
    case "CapabilityGrant": {
      const out = await reconcileGrant(deps.kc, deps.view, object as unknown as CapabilityGrant, Math.floor(Date.now() / 1000));
      const untilRotation = Math.max(1000, out.rotateAt * 1000 - Date.now());
      const g = object as unknown as CapabilityGrant;
      // Label selectors follow pods as they come and go, so those grants are looked at every minute.
      const requeueAfterMs = g.spec.agents.matchLabels !== undefined ? Math.min(60_000, untilRotation) : untilRotation;
      return { status: { tokens: out.tokens, tokenCount: out.tokens.length, withdrawn: out.withdrawn }, requeueAfterMs };
    }
    case "Budget": {
      const b = object as unknown as Budget;
      if (parseDurationSeconds(b.spec.window) === undefined) throw new TerminalError("InvalidWindow", `window "${b.spec.window}" is not a duration`);
      const tenant = tenantOf(deps.view, namespace ?? "");
      if (deps.leases === undefined || b.spec.scope !== "tenant" || tenant === undefined) return { status: {} };
      // Tenant budgets have one key, so one figure; agent budgets have one per agent (see the lease ledger).
      const used = await deps.leases.usage(`${namespace}/${b.metadata.name}`, tenant.metadata.name);
      return { status: { used: { calls: used.calls, cost: used.cost } }, requeueAfterMs: 30_000 };
    }
    case "McpServer": {
      const s = object as unknown as McpServer;
      if (s.spec.credentials !== undefined && deps.view.secret(namespace ?? "", s.spec.credentials.secretName) === undefined) {
        throw new TerminalError("CredentialsMissing", `Secret ${s.spec.credentials.secretName} does not exist in ${namespace}`);
      }
      return { status: {} };
    }
    case "Tenant": {
      const t = object as unknown as Tenant;
      const contested = contestedNamespaces(deps.view, t);
      if (contested.length > 0) throw new TerminalError("NamespaceConflict", `namespaces also claimed by another Tenant: ${contested.join(", ")}; their sidecars get no snapshot until one Tenant owns each`);
      const { sidecars, current } = deps.sidecars().tenant(t.metadata.name);
      return { status: { sidecars, currentSidecars: current } };
    }
    default:
      return { status: {} };
  }
}

/** metav1.Condition semantics: lastTransitionTime moves only when the status does. */
export function withCondition(existing: readonly Condition[] | undefined, next: Omit<Condition, "lastTransitionTime">): Condition[] {
  // metav1.Condition caps messages at 32768 bytes; a longer one would make every status patch fail.
  if (Buffer.byteLength(next.message) > 4096) next = { ...next, message: Buffer.from(next.message).subarray(0, 4000).toString("utf8").replace(/\uFFFD$/, "") + " …(truncated)" };
  const previous = existing?.find((c) => c.type === next.type);
  const lastTransitionTime = previous !== undefined && previous.status === next.status ? previous.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return [...(existing ?? []).filter((c) => c.type !== next.type), { ...next, lastTransitionTime }];
}

async function patchStatus(kc: KubeConfig, kind: Kind, meta: { name: string; namespace?: string }, status: Status): Promise<void> {
  const { plural, namespaced } = KINDS[kind];
  const path = `/apis/${API_VERSION}/${namespaced ? `namespaces/${meta.namespace}/` : ""}${plural}/${meta.name}/status`;
  try {
    await kubeJson(kc, { method: "PATCH", path, body: { status }, contentType: "application/merge-patch+json" });
  } catch (error) {
    if (error instanceof KubeApiError && error.statusCode === 404) return; // deleted meanwhile
    throw error;
  }
}
