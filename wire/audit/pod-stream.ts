// The audit stream of a Kubernetes-mode sidecar: named for its tenant, namespace and pod, plus a
// suffix picked when its spool is created, so a pod recreated under the same name (a StatefulSet's)
// starts a new stream instead of colliding with the old one at seq 1. The controller stores records
// only in streams that carry the caller's own prefix. Tenant and pod names are DNS subdomains and
// namespaces DNS labels, so ":" never occurs in them and no two pods share a prefix.
import { createHash } from "node:crypto";

const MAX_STREAM = 128;
const SUFFIX = /^[0-9a-f]{8}$/;

/** `<tenant>:<namespace>:<pod>:`, or a digest of it when that would leave no room for the suffix. */
export function podStreamPrefix(tenant: string, namespace: string, pod: string): string {
  const plain = `${tenant}:${namespace}:${pod}:`;
  if (plain.length <= MAX_STREAM - 8) return plain;
  return `h:${createHash("sha256").update(plain).digest("hex").slice(0, 32)}:`;
}

/** A new stream name for this pod; `suffix` is 8 lowercase hex characters. */
export function podStream(tenant: string, namespace: string, pod: string, suffix: string): string {
  if (!SUFFIX.test(suffix)) throw new Error("a pod stream's suffix is 8 lowercase hex characters");
  return podStreamPrefix(tenant, namespace, pod) + suffix;
}

/** Whether `stream` is one this pod may write. */
export function isPodStream(stream: string, tenant: string, namespace: string, pod: string): boolean {
  const prefix = podStreamPrefix(tenant, namespace, pod);
  return stream.startsWith(prefix) && SUFFIX.test(stream.slice(prefix.length));
}
