// The audit stream of a Kubernetes-mode sidecar: named for its tenant, namespace and pod, then the
// pod's UID. The controller stores lines only in the stream of the pod that TokenReview names, UID
// included, so a later pod under the same name (a StatefulSet's agent-0 after a restart, or a
// re-created deleted pod) has a stream of its own and cannot append to its predecessor's. Tenant and
// pod names are DNS subdomains and namespaces DNS labels, so ":" never occurs in them.
import { createHash } from "node:crypto";

const MAX_STREAM = 128;
const UID_HEX = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `<tenant>:<namespace>:<pod>:`, or a digest of it when that would leave no room for the UID. */
export function podStreamPrefix(tenant: string, namespace: string, pod: string): string {
  const plain = `${tenant}:${namespace}:${pod}:`;
  if (plain.length <= MAX_STREAM - UID_HEX) return plain;
  return `h:${createHash("sha256").update(plain).digest("hex").slice(0, 32)}:`;
}

/** Throws unless `uid` is a pod UID as the API server writes it (a lowercase UUID). */
export function checkPodUid(uid: string): void {
  if (!UUID.test(uid)) throw new Error(`pod uid ${JSON.stringify(uid)} is not a lowercase UUID (the pod's metadata.uid)`);
}

/** This pod's stream: the prefix, then its UID's 32 hex digits. */
export function podStream(tenant: string, namespace: string, pod: string, podUid: string): string {
  checkPodUid(podUid);
  return podStreamPrefix(tenant, namespace, pod) + podUid.replaceAll("-", "");
}

/** Whether `stream` is the one stream this pod (this name and this UID) may write. */
export function isPodStream(stream: string, tenant: string, namespace: string, pod: string, podUid: string): boolean {
  return UUID.test(podUid) && stream === podStream(tenant, namespace, pod, podUid);
}
