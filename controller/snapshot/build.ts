// Builds one agent's snapshot from the cluster's resources: the policies, budgets, revocations and
// MCP servers of the agent's namespace that select it, its tenant's settings and keys. Pure: the
// caller passes what the informers hold, so every controller replica builds the same bytes.
import { KeyRing } from "../../wire/keys.ts";
import { parseDurationSeconds } from "../../wire/duration.ts";
import { SNAPSHOT_SCHEMA, type SnapshotBody, type SnapshotCeiling, type SnapshotPolicy, type SnapshotServer } from "../../wire/snapshot.ts";
import type { AgentSelector, Budget, CapabilityGrant, McpServer, Tenant, TokenRevocation, ToolPolicy } from "../api/types.ts";

/** Who subscribes: a sidecar's pod, as TokenReview and the pod object tell it. */
export interface AgentIdentity {
  namespace: string;
  serviceAccount: string;
  podName?: string;
  /** The pod's UID (TokenReview's pod-uid extra): its audit stream is named for it. */
  podUid?: string;
  podLabels: Record<string, string>;
}

export const agentId = (a: Pick<AgentIdentity, "namespace" | "serviceAccount">): string => `${a.namespace}/${a.serviceAccount}`;

export interface CompiledPolicy {
  version: string;
  wasm: Buffer;
}

/** What the builder reads; the controller backs it with its informers' caches. */
export interface ClusterView {
  tenants(): readonly Tenant[];
  policies(namespace: string): readonly ToolPolicy[];
  budgets(namespace: string): readonly Budget[];
  revocations(namespace: string): readonly TokenRevocation[];
  grants(namespace: string): readonly CapabilityGrant[];
  servers(namespace: string): readonly McpServer[];
  /** A Secret's data, decoded; undefined when it does not exist. */
  secret(namespace: string, name: string): Record<string, string> | undefined;
  /** The compiled policy for this generation; undefined while compiling or when it does not compile. */
  compiled(policy: ToolPolicy): CompiledPolicy | undefined;
  controllerNamespace: string;
}

export type BuildResult = { ok: true; body: SnapshotBody } | { ok: false; code: string; message: string };

export const DEFAULT_ENTRYPOINT = "intentgate/decision";

/**
 * The one Tenant that lists the namespace. Two tenants claiming one namespace is a conflict that
 * must not resolve to either (keys and policies would depend on list order): it yields none, so
 * the namespace's sidecars get no snapshot and fail closed, and both Tenants report it.
 */
export function tenantOf(view: ClusterView, namespace: string): Tenant | undefined {
  const claiming = view.tenants().filter((t) => t.spec.namespaces.includes(namespace));
  return claiming.length === 1 ? claiming[0] : undefined;
}

/** Namespaces this tenant lists that another tenant lists too. */
export function contestedNamespaces(view: ClusterView, tenant: Tenant): string[] {
  return tenant.spec.namespaces.filter((ns) => view.tenants().some((t) => t.metadata.name !== tenant.metadata.name && t.spec.namespaces.includes(ns)));
}

export function selects(selector: AgentSelector | undefined, who: AgentIdentity): boolean {
  if (selector === undefined) return true;
  if (selector.serviceAccounts !== undefined && selector.serviceAccounts.length > 0 && !selector.serviceAccounts.includes(who.serviceAccount)) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (who.podLabels[k] !== v) return false;
  return true;
}

/**
 * Whether an agent's calls count against a budget: budgets of its own namespace, a tenant budget
 * for every agent there, an agent budget for those it selects. The lease API asks the same.
 */
export function budgetApplies(budget: Budget, who: AgentIdentity): boolean {
  if (budget.metadata.namespace !== who.namespace) return false;
  return budget.spec.scope === "tenant" || selects(budget.spec.agents, who);
}

export function buildSnapshotBody(view: ClusterView, who: AgentIdentity): BuildResult {
  const tenant = tenantOf(view, who.namespace);
  if (tenant === undefined) return { ok: false, code: "no_tenant", message: `no single Tenant owns namespace "${who.namespace}" (none, or more than one)` };
  const keysRef = tenant.spec.keysSecret;
  const keyText = view.secret(view.controllerNamespace, keysRef.name)?.[keysRef.key];
  if (keyText === undefined) return { ok: false, code: "tenant_keys_missing", message: `Secret ${view.controllerNamespace}/${keysRef.name} has no key "${keysRef.key}"` };
  let keys: unknown;
  try {
    // Sidecars get the tenant's derived keys only, never a master key.
    keys = KeyRing.fromFile(JSON.parse(keyText)).exportTenant(tenant.metadata.name);
  } catch (error) {
    return { ok: false, code: "tenant_keys_invalid", message: `tenant key file: ${(error as Error).message}` };
  }
  let auditKeys: unknown;
  const auditRef = tenant.spec.auditKeysSecret;
  if (auditRef !== undefined) {
    const text = view.secret(view.controllerNamespace, auditRef.name)?.[auditRef.key];
    if (text === undefined) return { ok: false, code: "audit_keys_missing", message: `Secret ${view.controllerNamespace}/${auditRef.name} has no key "${auditRef.key}"` };
    try {
      auditKeys = JSON.parse(text);
    } catch {
      return { ok: false, code: "audit_keys_invalid", message: "tenant audit key file is not JSON" };
    }
  }

  const policies: SnapshotPolicy[] = [];
  for (const p of sortByName(view.policies(who.namespace))) {
    if (!selects(p.spec.agents, who)) continue;
    const compiled = view.compiled(p);
    // A policy that selects this agent but does not compile must not silently drop out: the
    // sidecar gets a placeholder without wasm and denies every call while it is in force.
    policies.push({
      name: `${p.metadata.namespace}/${p.metadata.name}`,
      version: compiled?.version ?? "uncompiled",
      mode: p.spec.mode,
      entrypoint: p.spec.entrypoint ?? DEFAULT_ENTRYPOINT,
      wasm: compiled?.wasm.toString("base64") ?? "",
      data: p.spec.data ?? {},
    });
  }

  const budgets: SnapshotCeiling[] = [];
  for (const b of sortByName(view.budgets(who.namespace))) {
    if (!budgetApplies(b, who)) continue;
    const windowSeconds = parseDurationSeconds(b.spec.window);
    if (windowSeconds === undefined) continue; // the CRD schema rejects this; reconcile reports it
    budgets.push({
      budget: `${b.metadata.namespace}/${b.metadata.name}`,
      scope: b.spec.scope,
      windowSeconds,
      ...(b.spec.calls !== undefined ? { calls: b.spec.calls } : {}),
      ...(b.spec.cost !== undefined ? { cost: b.spec.cost } : {}),
      ...(b.spec.costs !== undefined ? { costs: b.spec.costs } : {}),
    });
  }

  // Revocations are tenant-wide: a revoked token is refused by every sidecar of the tenant.
  const revoked = new Set<string>();
  for (const ns of tenant.spec.namespaces) {
    for (const r of view.revocations(ns)) for (const id of r.spec.ids) revoked.add(id);
    // Tokens of accounts a grant stopped selecting: refused everywhere until they expire. A deleted grant's
    // tokens are refused at once, before the controller has written their TokenRevocation.
    for (const g of view.grants(ns)) {
      for (const w of g.status?.withdrawn ?? []) revoked.add(w.tokenId);
      if (g.metadata.deletionTimestamp !== undefined) for (const t of g.status?.tokens ?? []) if (t.tokenId !== "") revoked.add(t.tokenId);
    }
  }

  const servers: SnapshotServer[] = [];
  for (const s of sortByName(view.servers(who.namespace))) {
    const headers: Record<string, string> = {};
    if (s.spec.credentials !== undefined) {
      const data = view.secret(who.namespace, s.spec.credentials.secretName);
      if (data === undefined) continue; // reported on the McpServer's status; calls to it fail as unknown
      for (const [header, key] of Object.entries(s.spec.credentials.headers)) {
        const value = data[key];
        if (value !== undefined) headers[header] = value;
      }
    }
    const own = new URL(s.spec.url);
    const authority = own.port === "" ? `${own.hostname}:${own.protocol === "https:" ? 443 : 80}` : own.host;
    servers.push({
      name: s.metadata.name,
      url: s.spec.url,
      ...(s.spec.sseUrl !== undefined ? { sseUrl: s.spec.sseUrl } : {}),
      hosts: [...new Set([authority, ...(s.spec.hosts ?? [])])].sort(),
      headers,
      allowedTools: s.spec.allowedTools ?? [],
      pinnedTools: s.spec.pinnedTools ?? {},
    });
  }

  const spec = tenant.spec;
  const extractor = spec.intent?.extractor;
  return {
    ok: true,
    body: {
      schema: SNAPSHOT_SCHEMA,
      tenant: tenant.metadata.name,
      agent: agentId(who),
      settings: {
        intent: {
          mode: spec.intent?.mode ?? "off",
          ...(extractor === undefined ? {} : { extractor: extractor.kind === "http" ? { kind: "http", url: extractor.url, timeoutMs: extractor.timeoutMs ?? 2000 } : { kind: "builtin" } }),
          minConfidence: spec.intent?.minConfidence ?? 0.5,
        },
        memory: {
          provenance: spec.memory?.provenance ?? false,
          mode: spec.memory?.mode ?? "enforce",
          ...(spec.memory?.writers !== undefined ? { writers: spec.memory.writers } : {}),
        },
        audit: { storeArgumentValues: spec.audit?.storeArgumentValues ?? false, recordOutcomes: spec.audit?.recordOutcomes ?? true },
        maxSnapshotAgeSeconds: spec.maxSnapshotAgeSeconds ?? 300,
        unknownHosts: spec.unknownHosts ?? "refuse",
      },
      keys,
      ...(auditKeys === undefined ? {} : { auditKeys }),
      policies,
      budgets,
      revocations: [...revoked].sort(),
      servers,
    },
  };
}

function sortByName<T extends { metadata: { name: string } }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
