// The containers the injector adds. The sidecar is a native sidecar (an init container with
// restartPolicy: Always, Kubernetes >= 1.29): the kubelet starts the pod's own containers only
// after its startup probe (/readyz) passes, and stops it after them.
import type { V1Container } from "@kubernetes/client-node";
import type { InjectorSettings, Mode } from "./inject.ts";

export const SIDECAR_NAME = "intentgate-sidecar";
export const REDIRECT_NAME = "intentgate-redirect";
export const TOKEN_DIR = "/var/run/secrets/intentgate";
export const STATE_DIR = "/var/lib/intentgate";

const fieldRef = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export function buildSidecarContainer(settings: InjectorSettings, mode: Mode): V1Container {
  const admin = { httpGet: { path: "/readyz", port: settings.ports.admin } };
  return {
    name: SIDECAR_NAME,
    image: settings.image,
    command: ["node", "/app/intentgate.mjs", "sidecar", "--kubernetes"],
    restartPolicy: "Always",
    ports: [
      { name: "intentgate-mcp", containerPort: settings.ports.mcp, protocol: "TCP" },
      { name: "intentgate-adm", containerPort: settings.ports.admin, protocol: "TCP" },
    ],
    env: [
      { name: "INTENTGATE_CONTROLLER_URL", value: settings.controllerUrl },
      { name: "INTENTGATE_TOKEN_FILE", value: `${TOKEN_DIR}/token` },
      fieldRef("INTENTGATE_POD_NAME", "metadata.name"),
      fieldRef("INTENTGATE_POD_UID", "metadata.uid"),
      fieldRef("INTENTGATE_POD_NAMESPACE", "metadata.namespace"),
      fieldRef("INTENTGATE_SERVICE_ACCOUNT", "spec.serviceAccountName"),
      { name: "INTENTGATE_STATE_DIR", value: STATE_DIR },
      { name: "INTENTGATE_INTERCEPTION", value: mode },
      { name: "INTENTGATE_LISTEN", value: `127.0.0.1:${settings.ports.mcp}` },
      { name: "INTENTGATE_ADMIN", value: `0.0.0.0:${settings.ports.admin}` },
      ...(settings.controllerCa === undefined ? [] : [{ name: "INTENTGATE_CONTROLLER_CA", value: settings.controllerCa }]),
      ...(settings.budgetLeases === true ? [{ name: "INTENTGATE_BUDGET_LEASES", value: "true" }] : []),
    ],
    startupProbe: { ...admin, periodSeconds: 1, failureThreshold: 120 },
    readinessProbe: { ...admin, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: { httpGet: { path: "/healthz", port: settings.ports.admin }, periodSeconds: 10, failureThreshold: 3 },
    ...(settings.resources === undefined ? {} : { resources: settings.resources }),
    securityContext: {
      runAsUser: settings.proxyUid,
      runAsGroup: settings.proxyUid,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [
      { name: "intentgate-token", mountPath: TOKEN_DIR, readOnly: true },
      { name: "intentgate-state", mountPath: STATE_DIR },
    ],
  };
}

/** Runs once as root with NET_ADMIN and NET_RAW only, installs the nat rules and exits. */
export function buildRedirectContainer(settings: InjectorSettings, destinations: readonly string[]): V1Container {
  return {
    name: REDIRECT_NAME,
    image: settings.redirectImage,
    command: ["/usr/local/bin/intentgate-redirect"],
    env: [
      { name: "INTENTGATE_REDIRECT_DESTINATIONS", value: destinations.join(",") },
      { name: "INTENTGATE_PROXY_UID", value: String(settings.proxyUid) },
      { name: "INTENTGATE_PROXY_PORT", value: String(settings.ports.mcp) },
    ],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    },
  };
}
