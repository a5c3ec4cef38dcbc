// CapabilityGrant: mints each selected service account a token carrying the grant's caveats (plus
// its agent and an expiry) into a Secret, and re-mints it once two thirds of its lifetime have
// passed. Agents mount the Secret; the controller never hands a key to an agent.
import type { KubeConfig } from "@kubernetes/client-node";
import { KeyRing, MAX_SKEW_SECONDS, caveatProblem, mintToken, parseDurationSeconds, type Caveat } from "../../wire/index.ts";
import type { CapabilityGrant, CapabilityGrantStatus } from "../api/types.ts";
import { kubeJson, KubeApiError } from "../kube/client.ts";
import { TerminalError } from "../kube/queue.ts";
import { tenantOf, type ClusterView } from "../snapshot/build.ts";
import { ensureFinalizer } from "./grant-deletion.ts";
import { caveatsOf, expiryOf, issuedAtOf, tokenIdOf } from "./token-fields.ts";

export interface GrantOutcome {
  tokens: NonNullable<CapabilityGrantStatus["tokens"]>;
  withdrawn: NonNullable<CapabilityGrantStatus["withdrawn"]>;
  /** When the earliest token is due for rotation (unix seconds). */
  rotateAt: number;
}

export async function reconcileGrant(kc: KubeConfig, view: ClusterView, grant: CapabilityGrant, nowSeconds: number): Promise<GrantOutcome> {
  const namespace = grant.metadata.namespace as string;
  const tenant = tenantOf(view, namespace);
  if (tenant === undefined) throw new TerminalError("NoTenant", `no Tenant owns namespace "${namespace}"`);
  const ref = tenant.spec.keysSecret;
  const keyText = view.secret(view.controllerNamespace, ref.name)?.[ref.key];
  if (keyText === undefined) throw new Error(`tenant key Secret ${view.controllerNamespace}/${ref.name} (key ${ref.key}) is not readable yet`);
  const keys = KeyRing.fromFile(JSON.parse(keyText));
  const ttl = parseDurationSeconds(grant.spec.ttl ?? "24h");
  if (ttl === undefined) throw new TerminalError("InvalidTTL", `ttl "${grant.spec.ttl}" is not a duration`);
  const caveats = grant.spec.caveats as unknown as Caveat[];
  for (const [i, c] of caveats.entries()) {
    const problem = caveatProblem(c);
    if (problem !== undefined) throw new TerminalError("InvalidCaveat", `caveats[${i}]: ${problem}`);
    if (c.type === "agent" || c.type === "hop") throw new TerminalError("InvalidCaveat", `caveats[${i}]: "${c.type}" is set by the controller`);
  }
  // Before anything is minted: from now on, deleting the grant revokes what it hands out.
  await ensureFinalizer(kc, grant);
  const accounts = await grantedAccounts(kc, namespace, grant);
  const withdrawn = withdrawnTokens(grant, accounts, nowSeconds);
  const revoked = new Set(withdrawn.map((w) => w.tokenId));
  const prefix = grant.spec.secretPrefix ?? grant.metadata.name;
  const tokens: GrantOutcome["tokens"] = [];
  let rotateAt = Infinity;
  for (const sa of [...accounts].sort()) {
    const secretName = `${prefix}-${sa}`.slice(0, 253);
    const existing = view.secret(namespace, secretName)?.["token"];
    let token = existing;
    let expiresAt = existing === undefined ? 0 : expiryOf(existing);
    const issuedAt = existing === undefined ? 0 : issuedAtOf(existing);
    const fresh =
      existing !== undefined && nowSeconds < issuedAt + Math.floor((2 * (expiresAt - issuedAt)) / 3) && sameGrant(existing, grant) && !revoked.has(tokenIdOf(existing));
    if (!fresh) {
      expiresAt = nowSeconds + ttl;
      token = mintToken(keys, {
        tenant: tenant.metadata.name,
        subject: `${namespace}/${sa}`,
        issuer: `intentgate-controller/${namespace}/${grant.metadata.name}`,
        issuedAt: nowSeconds,
        caveats: [...caveats, { type: "agent", id: `${namespace}/${sa}` }, { type: "expires", at: expiresAt }],
      });
      await writeSecret(kc, namespace, secretName, grant, token);
    }
    tokens.push({ serviceAccount: sa, secret: secretName, tokenId: tokenIdOf(token as string), expiresAt: new Date(expiresAt * 1000).toISOString() });
    const issued = fresh ? issuedAt : nowSeconds;
    rotateAt = Math.min(rotateAt, issued + Math.floor((2 * (expiresAt - issued)) / 3));
  }
  return { tokens, withdrawn, rotateAt };
}

/**
 * Tokens of accounts the grant selected before and does not now (a pod lost its label, an account
 * left the list): revoked in the tenant's snapshots until they expire (plus the largest clock skew a
 * sidecar allows), then forgotten. An account
 * selected again gets a new token.
 */
export function withdrawnTokens(grant: CapabilityGrant, accounts: readonly string[], nowSeconds: number): NonNullable<CapabilityGrantStatus["withdrawn"]> {
  // Kept past expiry for the most clock skew a sidecar allows: until then some sidecar may still accept it.
  const live = (w: { expiresAt: string }): boolean => Date.parse(w.expiresAt) / 1000 + MAX_SKEW_SECONDS > nowSeconds;
  const kept = (grant.status?.withdrawn ?? []).filter(live);
  const dropped = (grant.status?.tokens ?? []).filter((t) => !accounts.includes(t.serviceAccount) && t.tokenId !== "" && live(t));
  const out = [...kept];
  for (const t of dropped) if (!out.some((w) => w.tokenId === t.tokenId)) out.push({ serviceAccount: t.serviceAccount, tokenId: t.tokenId, expiresAt: t.expiresAt });
  return out.slice(-1024);
}

/**
 * Tokens are minted per service account, so every pod of an account can use its token. A label
 * selector picks the accounts of the pods that carry the labels now (re-read at each reconcile, at
 * least every minute); with a list of service accounts as well, both must hold. The token of an
 * account no longer selected is withdrawn (revoked until it expires); its Secret stays.
 */
async function grantedAccounts(kc: KubeConfig, namespace: string, grant: CapabilityGrant): Promise<string[]> {
  const listed = grant.spec.agents.serviceAccounts ?? [];
  const labels = Object.entries(grant.spec.agents.matchLabels ?? {});
  if (labels.length === 0) return listed;
  const pods = await kubeJson<{ items: Array<{ spec?: { serviceAccountName?: string } }> }>(kc, {
    path: `/api/v1/namespaces/${namespace}/pods`,
    query: { labelSelector: labels.map(([k, v]) => `${k}=${v}`).join(",") },
  });
  const found = new Set(pods.items.map((p) => p.spec?.serviceAccountName ?? "default"));
  return [...found].filter((sa) => listed.length === 0 || listed.includes(sa));
}

/** The token in the Secret was minted from this grant's generation (re-minted when the caveats change). */
function sameGrant(token: string, grant: CapabilityGrant): boolean {
  const caveats = caveatsOf(token);
  if (caveats === undefined) return false;
  const minted = JSON.stringify(caveats.filter((c) => c.type !== "agent" && c.type !== "expires"));
  return minted === JSON.stringify(grant.spec.caveats);
}

async function writeSecret(kc: KubeConfig, namespace: string, name: string, grant: CapabilityGrant, token: string): Promise<void> {
  const body = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels: { "app.kubernetes.io/managed-by": "intentgate", "intentgate.dev/grant": grant.metadata.name },
      ownerReferences: [{ apiVersion: grant.apiVersion, kind: "CapabilityGrant", name: grant.metadata.name, uid: grant.metadata.uid, controller: true }],
    },
    type: "Opaque",
    data: { token: Buffer.from(token).toString("base64") },
  };
  const path = `/api/v1/namespaces/${namespace}/secrets`;
  try {
    await kubeJson(kc, { method: "PUT", path: `${path}/${name}`, body });
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.statusCode !== 404) throw error;
    await kubeJson(kc, { method: "POST", path, body });
  }
}
