// How the controller (and tests) reach the API server: a KubeConfig from a kubeconfig file or from the
// pod's service account, and one raw JSON request function with a stable error, used by the informer,
// the leader elector and the status writer (list and watch need paths and streaming that the
// generated clients do not give).
import { existsSync } from "node:fs";
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node";
import { fetch, type Dispatcher, type Response } from "undici";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export class KubeConfigError extends Error {
  readonly code: "kube_config_invalid" | "kube_in_cluster_unavailable";
  constructor(code: KubeConfigError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export type KubeConfigSource =
  | { kind: "file"; path: string; context?: string }
  | { kind: "inCluster"; /** Prefix of the service-account folder, for tests; default "". */ root?: string };

/** Builds a KubeConfig; throws KubeConfigError when the source cannot give a usable cluster and user. */
export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === "file") {
    if (!existsSync(source.path)) throw new KubeConfigError("kube_config_invalid", `kubeconfig ${source.path} does not exist`);
    try {
      kc.loadFromFile(source.path);
      if (source.context !== undefined) kc.setCurrentContext(source.context);
    } catch (error) {
      throw new KubeConfigError("kube_config_invalid", `kubeconfig ${source.path}: ${(error as Error).message}`);
    }
  } else {
    const root = source.root ?? "";
    const missing = ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"].filter((name) => !process.env[name]);
    for (const file of ["token", "ca.crt"]) if (!existsSync(`${root}${SERVICE_ACCOUNT_DIR}/${file}`)) missing.push(`${root}${SERVICE_ACCOUNT_DIR}/${file}`);
    if (missing.length > 0) throw new KubeConfigError("kube_in_cluster_unavailable", `not running in a pod: missing ${missing.join(", ")}`);
    // client-node re-reads the token file every minute, so projected tokens that the kubelet rotates keep working.
    kc.loadFromCluster(root);
  }
  if (kc.getCurrentCluster() === null || kc.getCurrentUser() === null) {
    throw new KubeConfigError("kube_config_invalid", "the kubeconfig's current context names no cluster or no user");
  }
  return kc;
}

/** The namespace the controller runs in: the service account's, else the kubeconfig context's, else "default". */
export function currentNamespace(kc: KubeConfig): string {
  const context = kc.getContextObject(kc.getCurrentContext());
  return context?.namespace ?? "default";
}

/** A non-2xx answer from the API server; `reason` is the Status object's (e.g. "Conflict", "Expired"). */
export class KubeApiError extends Error {
  readonly code = "kube_api_error";
  readonly statusCode: number;
  readonly reason: string;
  constructor(statusCode: number, reason: string, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export interface KubeRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. "/api/v1/namespaces/default/secrets". */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; patches pass theirs (e.g. application/merge-patch+json). */
  contentType?: string;
  signal?: AbortSignal;
}

export interface KubeResponse {
  response: Response;
  /** Destroys the request's connection; call it when done with the response (also after an abort). */
  close(): void;
}

/**
 * Sends one authenticated request over its own connection, which close() destroys. A connection that
 * went silent (half-open) is never reused: an aborted request's socket cannot linger in a pool and
 * swallow the next request. The controller's request rate (a lease renewal every few seconds, watches
 * that last minutes) makes the extra TLS handshakes cheap.
 */
export async function kubeFetch(kc: KubeConfig, request: KubeRequest): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeConfigError("kube_config_invalid", "no current cluster");
  const url = new URL(cluster.server.replace(/\/$/, "") + request.path);
  for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
  const method = request.method ?? "GET";
  const context = new RequestContext(url.toString(), HttpMethod[method]);
  await kc.applySecurityAuthentication(context);
  const headers: Record<string, string> = { ...context.getHeaders(), accept: "application/json" };
  if (request.body !== undefined) headers["content-type"] = request.contentType ?? "application/json";
  const dispatcher: Dispatcher | undefined = context.getDispatcher();
  const close = (): void => void dispatcher?.destroy().catch(() => undefined);
  try {
    const response = await fetch(url, {
      method,
      headers,
      ...(dispatcher !== undefined ? { dispatcher } : {}),
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      ...(request.signal !== undefined ? { signal: request.signal } : {}),
    });
    return { response, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Sends one request and parses the JSON answer; throws KubeApiError for any non-2xx status. */
export async function kubeJson<T>(kc: KubeConfig, request: KubeRequest): Promise<T> {
  const { response, close } = await kubeFetch(kc, request);
  try {
    const text = await response.text();
    if (response.status < 200 || response.status > 299) throw apiError(response.status, text);
    return JSON.parse(text) as T;
  } finally {
    close();
  }
}

/** A KubeApiError from a status code and a body that is usually a metav1.Status. */
export function apiError(statusCode: number, body: string): KubeApiError {
  let reason = "Unknown";
  let message = body.slice(0, 500);
  try {
    const status = JSON.parse(body) as { reason?: string; message?: string };
    reason = status.reason ?? reason;
    message = status.message ?? message;
  } catch {
    /* not a Status object */
  }
  return new KubeApiError(statusCode, reason, `${statusCode} ${reason}: ${message}`);
}
