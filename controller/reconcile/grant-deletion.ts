// Deleting a CapabilityGrant takes access away as a revocation does: a pod that read its token (env or file)
// keeps it after the Secret is gone. A finalizer holds the grant until every token it handed out that a
// sidecar could still accept is listed in a TokenRevocation, which outlives the grant and is deleted once
// the last of those tokens has expired.
import type { KubeConfig } from "@kubernetes/client-node";
import { MAX_SKEW_SECONDS } from "../../wire/index.ts";
import { API_VERSION, type CapabilityGrant, type TokenRevocation } from "../api/types.ts";
import { kubeJson, KubeApiError } from "../kube/client.ts";
import type { KubeObject } from "../kube/informer.ts";
import type { ClusterView } from "../snapshot/build.ts";
import { expiryOf, tokenIdOf } from "./token-fields.ts";

export const GRANT_FINALIZER = "intentgate.dev/revoke-tokens";
const MANAGED_BY = "app.kubernetes.io/managed-by";
const GRANT_NAME = "intentgate.dev/grant";
const GRANT_UID = "intentgate.dev/grant-uid";
/** The latest expiry of the revoked tokens (RFC 3339): the TokenRevocation is deleted after it. */
export const EXPIRES_AT = "intentgate.dev/expires-at";
const MAX_IDS = 1024; // the TokenRevocation CRD's limit on spec.ids
const MAX_WAIT_MS = 6 * 3600_000; // timers cannot wait the weeks a token may live
const MAX_TTL_SECONDS = 90 * 86_400; // the CapabilityGrant CRD's longest ttl

const grantPath = (g: CapabilityGrant): string => `/apis/${API_VERSION}/namespaces/${g.metadata.namespace}/capabilitygrants/${g.metadata.name}`;
const revocationsPath = (namespace: string): string => `/apis/${API_VERSION}/namespaces/${namespace}/tokenrevocations`;

/** Called before a grant mints anything, so that its deletion waits for its tokens to be revoked. */
export async function ensureFinalizer(kc: KubeConfig, grant: CapabilityGrant): Promise<void> {
  const finalizers = grant.metadata.finalizers ?? [];
  if (!finalizers.includes(GRANT_FINALIZER)) await setFinalizers(kc, grant, [...finalizers, GRANT_FINALIZER]);
}

/**
 * One step of a deleted grant's finalization. "waiting": its TokenRevocation is written but not yet in this
 * replica's cache (snapshots built meanwhile would miss it once the grant is gone), so look again shortly.
 * Any error (the TokenRevocation refused) leaves the finalizer, and the grant, in place.
 */
export async function finalizeGrant(kc: KubeConfig, view: ClusterView, seen: CapabilityGrant, nowSeconds: number): Promise<"released" | "waiting"> {
  if (!(seen.metadata.finalizers ?? []).includes(GRANT_FINALIZER)) return "released";
  // The cache can lag the status the last reconcile wrote (a token minted just before the deletion).
  const grant = await readGrant(kc, seen);
  const finalizers = grant?.metadata.finalizers ?? [];
  if (grant === undefined || !finalizers.includes(GRANT_FINALIZER)) return "released";
  const namespace = grant.metadata.namespace as string;
  const ours = view.revocations(namespace).filter((r) => r.metadata.annotations?.[GRANT_UID] === grant.metadata.uid);
  const covered = new Set(ours.flatMap((r) => r.spec.ids));
  const missing = [...(await liveTokens(kc, grant, nowSeconds))].filter(([id]) => !covered.has(id)).sort(([a], [b]) => (a < b ? -1 : 1));
  if (missing.length === 0) {
    await setFinalizers(kc, grant, finalizers.filter((f) => f !== GRANT_FINALIZER));
    return "released";
  }
  for (let i = 0; i * MAX_IDS < missing.length; i++) await createRevocation(kc, view, grant, i, missing.slice(i * MAX_IDS, (i + 1) * MAX_IDS));
  return "waiting";
}

/**
 * The sweep of a TokenRevocation written for a deleted grant: deleted once every token in it has expired
 * (plus the clock skew sidecars allow), else the milliseconds until then. Undefined for any other.
 */
export async function sweepRevocation(kc: KubeConfig, object: KubeObject, nowSeconds: number): Promise<"deleted" | number | undefined> {
  const r = object as unknown as TokenRevocation;
  const expiresAt = Date.parse(r.metadata.annotations?.[EXPIRES_AT] ?? "");
  if (r.metadata.labels?.[MANAGED_BY] !== "intentgate" || r.metadata.annotations?.[GRANT_UID] === undefined || Number.isNaN(expiresAt)) return undefined;
  const goneAt = Math.ceil(expiresAt / 1000) + MAX_SKEW_SECONDS;
  if (goneAt > nowSeconds) return Math.min(MAX_WAIT_MS, (goneAt - nowSeconds) * 1000);
  // Preconditions: an object changed meanwhile (ids added by hand) is looked at again, not deleted unseen.
  const preconditions = { uid: r.metadata.uid, resourceVersion: r.metadata.resourceVersion };
  await ignoreNotFound(kubeJson(kc, { method: "DELETE", path: `${revocationsPath(r.metadata.namespace as string)}/${r.metadata.name}`, body: { apiVersion: "v1", kind: "DeleteOptions", preconditions } }));
  return "deleted";
}

/** Token id -> expiry (unix seconds) of every token the grant handed out that a sidecar could still accept. */
async function liveTokens(kc: KubeConfig, grant: CapabilityGrant, nowSeconds: number): Promise<Map<string, number>> {
  const live = new Map<string, number>();
  const add = (id: string, expiresAt: number): void => {
    if (id !== "" && expiresAt + MAX_SKEW_SECONDS > nowSeconds) live.set(id, Math.max(expiresAt, live.get(id) ?? 0));
  };
  for (const t of [...(grant.status?.tokens ?? []), ...(grant.status?.withdrawn ?? [])]) {
    const at = Date.parse(t.expiresAt);
    add(t.tokenId, Number.isNaN(at) ? nowSeconds + MAX_TTL_SECONDS : Math.ceil(at / 1000)); // unreadable: as long as any token lives
  }
  // A token written to its Secret whose status write then failed is in no status: read the grant's Secrets too.
  for (const token of await secretTokens(kc, grant)) add(tokenIdOf(token), expiryOf(token));
  return live;
}

async function secretTokens(kc: KubeConfig, grant: CapabilityGrant): Promise<string[]> {
  // Label values hold at most 63 characters: a grant with a longer name could write no token Secret.
  if (grant.metadata.name.length > 63) return [];
  type Secret = { metadata: { ownerReferences?: Array<{ uid: string }> }; data?: { token?: string } };
  const list = await kubeJson<{ items: Secret[] }>(kc, { path: `/api/v1/namespaces/${grant.metadata.namespace}/secrets`, query: { labelSelector: `${GRANT_NAME}=${grant.metadata.name}` } });
  return list.items
    .filter((s) => s.metadata.ownerReferences?.some((o) => o.uid === grant.metadata.uid) === true && s.data?.token !== undefined)
    .map((s) => Buffer.from(s.data?.token ?? "", "base64").toString("utf8"));
}

async function createRevocation(kc: KubeConfig, view: ClusterView, grant: CapabilityGrant, chunk: number, tokens: Array<[string, number]>): Promise<void> {
  const namespace = grant.metadata.namespace as string;
  const name = revocationName(grant, chunk);
  const existing = view.revocations(namespace).find((r) => r.metadata.name === name);
  if (existing !== undefined) throw new Error(`TokenRevocation ${namespace}/${name} exists and does not list this grant's tokens; delete or rename it`);
  const latest = Math.max(...tokens.map(([, expiresAt]) => expiresAt));
  const body = {
    apiVersion: API_VERSION,
    kind: "TokenRevocation",
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY]: "intentgate" },
      annotations: { [GRANT_NAME]: grant.metadata.name, [GRANT_UID]: grant.metadata.uid, [EXPIRES_AT]: new Date(latest * 1000).toISOString() },
    },
    spec: { ids: tokens.map(([id]) => id), reason: `CapabilityGrant ${grant.metadata.name} was deleted: the tokens it handed out are revoked until they expire` },
  };
  try {
    await kubeJson(kc, { method: "POST", path: revocationsPath(namespace), body });
  } catch (error) {
    // Written by an earlier attempt, not yet in the cache: the next look finds it there.
    if (!(error instanceof KubeApiError && error.statusCode === 409)) throw error;
  }
}

/** "<grant>-<uid prefix>": the same on every retry, and different for a grant re-created under the same name. */
export function revocationName(grant: CapabilityGrant, chunk: number): string {
  const suffix = `-${(grant.metadata.uid ?? "").slice(0, 8)}${chunk === 0 ? "" : `-${chunk + 1}`}`;
  return grant.metadata.name.slice(0, 253 - suffix.length).replace(/[.-]+$/, "") + suffix;
}

async function readGrant(kc: KubeConfig, seen: CapabilityGrant): Promise<CapabilityGrant | undefined> {
  const grant = await ignoreNotFound(kubeJson<CapabilityGrant>(kc, { path: grantPath(seen) }));
  return grant?.metadata.uid === seen.metadata.uid ? grant : undefined;
}

// Conditional on the resourceVersion: a list someone else changed meanwhile is not overwritten (409, retried).
async function setFinalizers(kc: KubeConfig, grant: CapabilityGrant, finalizers: string[]): Promise<void> {
  const metadata = { finalizers: finalizers.length === 0 ? null : finalizers, resourceVersion: grant.metadata.resourceVersion };
  await kubeJson(kc, { method: "PATCH", path: grantPath(grant), body: { metadata }, contentType: "application/merge-patch+json" });
}

async function ignoreNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
    throw error;
  }
}
