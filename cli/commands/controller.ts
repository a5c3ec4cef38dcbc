// `intentgate controller`: watch the IntentGate custom resources, push snapshots to sidecars, mint
// grant tokens, grant budget leases and inject sidecars. Every flag has an INTENTGATE_* environment
// variable, which is how the Helm chart configures it.
import { hostname } from "node:os";
import { Command } from "commander";
import { startController } from "../../controller/controller.ts";
import { currentNamespace, loadKubeConfig } from "../../controller/kube/client.ts";
import type { Mode } from "../../controller/webhook/inject.ts";
import { PgAuditStore } from "../../sidecar/audit/store/pg.ts";
import { createLogger } from "../../sidecar/observability/logger.ts";
import { CliError } from "../errors.ts";
import { parseAddress, waitForSignal } from "./addresses.ts";

interface ControllerFlags {
  kubeconfig?: string;
  namespace?: string;
  listen: string;
  admin: string;
  webhook?: string;
  serviceName?: string;
  tlsSecret?: string;
  webhookConfig?: string;
  leaseName?: string;
  leaderElect: boolean;
  databaseEnv: string;
  opa: string;
  sidecarImage?: string;
  redirectImage?: string;
  sidecarResources?: string;
  defaultInterception: string;
  allowRedirect: string;
  logLevel: string;
}

const env = (name: string): string | undefined => process.env[`INTENTGATE_${name}`] || undefined;

export function controllerCommand(): Command {
  return new Command("controller")
    .description("run the Kubernetes controller: CRDs in, snapshots pushed to every sidecar, grant tokens minted, budget leases, sidecar injection")
    .option("--kubeconfig <file>", "kubeconfig (default: in-cluster service account; env KUBECONFIG)", process.env["KUBECONFIG"])
    .option("--namespace <ns>", "the controller's namespace: tenant key Secrets, its TLS Secret and Lease (env INTENTGATE_NAMESPACE)", env("NAMESPACE"))
    .option("--listen <host:port>", "HTTPS API sidecars subscribe to (env INTENTGATE_LISTEN)", env("LISTEN") ?? "0.0.0.0:8443")
    .option("--admin <host:port>", "/metrics, /healthz, /readyz (env INTENTGATE_ADMIN)", env("ADMIN") ?? "0.0.0.0:8081")
    .option("--webhook <host:port>", "HTTPS sidecar injector (env INTENTGATE_WEBHOOK_LISTEN); off when not set", env("WEBHOOK_LISTEN"))
    .option("--service-name <name>", "the controller's Service: TLS names and the URL sidecars use (env INTENTGATE_SERVICE_NAME)", env("SERVICE_NAME"))
    .option("--tls-secret <name>", "Secret holding the controller's CA and serving certificate (env INTENTGATE_TLS_SECRET)", env("TLS_SECRET"))
    .option("--webhook-config <name>", "MutatingWebhookConfiguration whose caBundle is kept current (env INTENTGATE_WEBHOOK_CONFIG)", env("WEBHOOK_CONFIG"))
    .option("--lease-name <name>", "Lease for leader election (env INTENTGATE_LEASE_NAME)", env("LEASE_NAME") ?? "intentgate-controller")
    .option("--no-leader-elect", "act as the only replica (no Lease)")
    .option("--database-env <name>", "environment variable holding the PostgreSQL URL of the budget lease ledger and the audit log", "INTENTGATE_DATABASE_URL")
    .option("--opa <path>", "opa binary that compiles policies (env INTENTGATE_OPA)", env("OPA") ?? "opa")
    .option("--sidecar-image <image>", "image of injected sidecars (env INTENTGATE_SIDECAR_IMAGE)", env("SIDECAR_IMAGE"))
    .option("--redirect-image <image>", "image of the redirect init container (env INTENTGATE_REDIRECT_IMAGE)", env("REDIRECT_IMAGE"))
    .option("--sidecar-resources <json>", "resources of injected sidecars, as JSON (env INTENTGATE_SIDECAR_RESOURCES)", env("SIDECAR_RESOURCES"))
    .option("--default-interception <mode>", "redirect or env (env INTENTGATE_DEFAULT_INTERCEPTION)", env("DEFAULT_INTERCEPTION") ?? "redirect")
    .option("--allow-redirect <bool>", "whether pods may get the NET_ADMIN redirect init container (env INTENTGATE_ALLOW_REDIRECT)", env("ALLOW_REDIRECT") ?? "true")
    .option("--log-level <level>", "log level (env INTENTGATE_LOG_LEVEL)", env("LOG_LEVEL") ?? "info")
    .action(async (flags: ControllerFlags) => {
      let kc;
      try {
        kc = loadKubeConfig(flags.kubeconfig !== undefined ? { kind: "file", path: flags.kubeconfig } : { kind: "inCluster" });
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      const namespace = flags.namespace ?? currentNamespace(kc);
      const log = createLogger(flags.logLevel, undefined, "intentgate-controller");
      const mode = flags.defaultInterception;
      if (mode !== "redirect" && mode !== "env") throw new CliError(`--default-interception must be redirect or env, not "${mode}"`);
      if (!["true", "false"].includes(flags.allowRedirect)) throw new CliError("--allow-redirect must be true or false");
      const service = flags.serviceName;
      const tls =
        flags.tlsSecret !== undefined && service !== undefined
          ? { secretName: flags.tlsSecret, webhookConfigName: flags.webhookConfig ?? "", dnsNames: [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`] }
          : undefined;
      let webhook;
      if (flags.webhook !== undefined) {
        if (tls === undefined || flags.webhookConfig === undefined) throw new CliError("--webhook needs --service-name, --tls-secret and --webhook-config");
        if (flags.sidecarImage === undefined || flags.redirectImage === undefined) throw new CliError("--webhook needs --sidecar-image and --redirect-image");
        let resources;
        try {
          resources = flags.sidecarResources === undefined ? undefined : (JSON.parse(flags.sidecarResources) as object);
        } catch {
          throw new CliError("--sidecar-resources is not JSON");
        }
        webhook = {
          listen: parseAddress(flags.webhook, "--webhook"),
          settings: {
            image: flags.sidecarImage,
            redirectImage: flags.redirectImage,
            ...(resources === undefined ? {} : { resources }),
            ports: { mcp: 7070, admin: 7071 },
            controllerUrl: `https://${service}.${namespace}.svc:${parseAddress(flags.listen, "--listen").port}`,
            controllerNamespace: namespace,
            defaultMode: mode as Mode,
            allowRedirect: flags.allowRedirect === "true",
            proxyUid: 1337,
          },
        };
      }
      const database = process.env[flags.databaseEnv] || undefined;
      let handle;
      try {
        handle = await startController({
          kc,
          namespace,
          log,
          listen: parseAddress(flags.listen, "--listen"),
          admin: parseAddress(flags.admin, "--admin"),
          opa: flags.opa,
          ...(database !== undefined ? { database, auditStore: new PgAuditStore(database) } : {}),
          ...(flags.leaderElect ? { leaderElection: { leaseName: flags.leaseName ?? "intentgate-controller", identity: env("POD_NAME") ?? hostname() } } : {}),
          ...(tls !== undefined ? { tls } : {}),
          ...(webhook !== undefined ? { webhook } : {}),
        });
      } catch (error) {
        throw new CliError(`controller did not start: ${(error as Error).message}`);
      }
      await waitForSignal(log, () => handle.close());
    });
}
