// Who is calling: a sidecar presents its pod's projected service-account token (audience
// "intentgate"); the API server's TokenReview says whether it is valid and whose it is (for a
// pod-bound token, the pod's name and UID), and the pod it is bound to gives the labels that
// policies select on. Reviews are cached briefly by the
// token's hash so a reconnect storm does not become a TokenReview storm.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { AuthenticationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { LRUCache } from "lru-cache";
import type { AgentIdentity } from "../snapshot/build.ts";

export const TOKEN_AUDIENCE = "intentgate";
const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";

export class AuthError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export type Authenticate = (req: IncomingMessage) => Promise<AgentIdentity>;

export function createAuthenticator(apis: { auth: AuthenticationV1Api; core: CoreV1Api }, cacheSeconds = 30): Authenticate {
  const cache = new LRUCache<string, Promise<AgentIdentity>>({ max: 10_000, ttl: cacheSeconds * 1000 });
  return (req) => {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(header);
    if (match === null) return Promise.reject(new AuthError(401, "unauthenticated", "Authorization: Bearer <service-account token> is required"));
    const token = match[1] as string;
    const key = createHash("sha256").update(token).digest("hex");
    let review = cache.get(key);
    if (review === undefined) {
      review = reviewToken(apis, token);
      cache.set(key, review);
      review.catch(() => cache.delete(key));
    }
    return review;
  };
}

async function reviewToken(apis: { auth: AuthenticationV1Api; core: CoreV1Api }, token: string): Promise<AgentIdentity> {
  let status;
  try {
    const review = await apis.auth.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [TOKEN_AUDIENCE] } } });
    status = review.status;
  } catch (error) {
    throw new AuthError(503, "token_review_unavailable", `TokenReview failed: ${(error as Error).message}`);
  }
  if (status?.authenticated !== true || status.user?.username === undefined) {
    throw new AuthError(401, "token_rejected", status?.error ?? "the token is not valid for audience intentgate");
  }
  const m = /^system:serviceaccount:([a-z0-9-]{1,63}):([a-z0-9.-]{1,253})$/.exec(status.user.username);
  if (m === null) throw new AuthError(403, "not_a_service_account", `"${status.user.username}" is not a service account`);
  const namespace = m[1] as string;
  const serviceAccount = m[2] as string;
  const podName = status.user.extra?.[POD_NAME_EXTRA]?.[0];
  if (podName === undefined) return { namespace, serviceAccount, podLabels: {} };
  // Absent only from API servers that do not report it; such an identity owns no audit stream.
  const podUid = status.user.extra?.[POD_UID_EXTRA]?.[0];
  let pod;
  try {
    pod = await apis.core.readNamespacedPod({ name: podName, namespace });
  } catch (error) {
    throw new AuthError(503, "pod_unreadable", `the token's pod ${namespace}/${podName} could not be read: ${(error as Error).message}`);
  }
  // The labels must be those of the token's pod, not of a later pod that took its name.
  if (podUid !== undefined && pod.metadata?.uid !== podUid) {
    throw new AuthError(401, "token_rejected", `the token's pod ${namespace}/${podName} (uid ${podUid}) no longer exists`);
  }
  return { namespace, serviceAccount, podName, ...(podUid !== undefined ? { podUid } : {}), podLabels: pod.metadata?.labels ?? {} };
}
