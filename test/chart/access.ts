// Asking a real API server's authorizer what a subject may do (SubjectAccessReview), for the RBAC tests.
import { AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";

export interface Subject {
  user: string;
  groups: string[];
}

/** One request, written like `kubectl auth can-i`: "create secrets", "patch toolpolicies/status", "update leases/name". */
export interface Ask {
  do: string;
  namespace?: string;
}

export const serviceAccount = (namespace: string, name: string): Subject => ({
  user: `system:serviceaccount:${namespace}:${name}`,
  groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
});

export const person = (user: string): Subject => ({ user, groups: ["system:authenticated"] });

const GROUPS: Record<string, string> = {
  tenants: "intentgate.dev",
  toolpolicies: "intentgate.dev",
  capabilitygrants: "intentgate.dev",
  budgets: "intentgate.dev",
  tokenrevocations: "intentgate.dev",
  mcpservers: "intentgate.dev",
  leases: "coordination.k8s.io",
  tokenreviews: "authentication.k8s.io",
  mutatingwebhookconfigurations: "admissionregistration.k8s.io",
  validatingwebhookconfigurations: "admissionregistration.k8s.io",
  clusterrolebindings: "rbac.authorization.k8s.io",
  deployments: "apps",
};

export function accessChecker(kc: KubeConfig): (who: Subject, ask: Ask) => Promise<boolean> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  return async (who, ask) => {
    const [verb, target] = ask.do.split(" ") as [string, string];
    const [resourcePath, name] = target.split(":") as [string, string | undefined];
    const [resource, subresource] = resourcePath.split("/") as [string, string | undefined];
    const review = await api.createSubjectAccessReview({
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: who.user,
          groups: who.groups,
          resourceAttributes: {
            verb,
            group: GROUPS[resource] ?? "",
            resource,
            ...(subresource !== undefined ? { subresource } : {}),
            ...(name !== undefined ? { name } : {}),
            ...(ask.namespace !== undefined ? { namespace: ask.namespace } : {}),
          },
        },
      },
    });
    return review.status?.allowed === true;
  };
}

/** Every ask whose answer is not `expected`, as "verb resource[:name] -n ns" lines. */
export async function mismatches(check: ReturnType<typeof accessChecker>, who: Subject, asks: readonly Ask[], expected: boolean): Promise<string[]> {
  const answers = await Promise.all(asks.map((a) => check(who, a)));
  return asks.filter((_, i) => answers[i] !== expected).map((a) => `${a.do}${a.namespace === undefined ? " (cluster)" : ` -n ${a.namespace}`}`);
}

/** The same verbs on every resource, in one namespace (or cluster-wide). */
export const each = (verbs: readonly string[], resources: readonly string[], namespace?: string): Ask[] =>
  verbs.flatMap((v) => resources.map((r) => ({ do: `${v} ${r}`, ...(namespace !== undefined ? { namespace } : {}) })));
