// A real Kubernetes API server per test file: etcd and kube-apiserver in a temporary folder on free
// ports, with static-token users, a kubeconfig for kubectl and @kubernetes/client-node, and a
// stop()/start() of the API server alone (etcd keeps the data) for restart tests. Uses the binaries
// scripts/toolchain.sh ensure_kube builds (INTENTGATE_KUBE_BIN); without them it fails, never skips.
import { KubeConfig } from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.ts";
import forge from "node-forge";

export const CRDS_DIR = resolve(import.meta.dirname, "../../crds");

export interface KubeUser {
  name: string;
  groups: string[];
  token: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (use with `-f -`). */
  input?: string;
  /** A user added with addUser; default the admin. */
  user?: string;
}

export interface TestKube {
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM of the CA that signed the API server's certificate. */
  caPem: string;
  /** A kubeconfig file with one context per user (named after the user), the admin's current. */
  kubeconfigPath: string;
  /** The admin (group system:masters). */
  admin: KubeUser;
  /** Folder of the run: logs (etcd.log, kube-apiserver.log), keys, kubeconfig. */
  dir: string;
  kubeconfigYaml(user?: string): string;
  /** A client-node KubeConfig for a user (default the admin). */
  kubeConfig(user?: string): KubeConfig;
  /** Runs kubectl; throws with its stderr when it fails, else returns stdout. */
  kubectl(args: string[], options?: KubectlOptions): Promise<string>;
  /** Runs kubectl and returns its exit code and output, failing or not. */
  tryKubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** Adds a static-token user. The API server reads its token file at start, so a running one is restarted. */
  addUser(name: string, groups?: string[]): Promise<KubeUser>;
  /** Applies every CRD in crds/ and waits until each is Established. */
  applyCrds(): Promise<void>;
  /** Stops the API server alone (etcd keeps running and keeps the data). */
  stop(): Promise<void>;
  /** Starts the API server again on the same port and waits until it is ready. */
  start(): Promise<void>;
  /** Stops everything and removes the folder. */
  destroy(): Promise<void>;
}

const KUBE_VERSION = "1.36.3";

export function kubeBin(): string {
  const dir = process.env["INTENTGATE_KUBE_BIN"] || join(homedir(), ".cache/intentgate", `k8s-${KUBE_VERSION}`, "bin");
  for (const name of ["etcd", "kube-apiserver", "kubectl"]) {
    if (!existsSync(join(dir, name))) {
      throw new Error(`${name} not found in ${dir}: run scripts/test.sh (its ensure_kube builds it) or set INTENTGATE_KUBE_BIN`);
    }
  }
  return dir;
}

// Children of every harness, killed if the test process exits or is signalled without destroy(), so no
// etcd or API server outlives its test file.
const running = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of running) child.kill("SIGKILL");
};
process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal); // the handler was once: this ends the process as the signal would have
  });
}

function launch(bin: string, args: string[], log: string): ChildProcess {
  const out = openLog(log);
  const child = spawn(bin, args, { stdio: ["ignore", out, out] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

// Append, so an API server restarted by a test keeps the earlier run's log for diagnosis.
const openLog = (path: string): number => openSync(path, "a");

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function logTail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "(no log)";
  }
}

async function waitFor(what: string, child: ChildProcess, log: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${logTail(log)}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${logTail(log)}`);
}

export async function startKube(): Promise<TestKube> {
  const bin = kubeBin();
  // A free port can be taken by a parallel test between our probe and the child's bind: try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin);
    } catch (error) {
      if (attempt === 3 || !String(error).includes("address already in use")) throw error;
    }
  }
}

async function startOnce(bin: string): Promise<TestKube> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-kube-"));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const etcdLog = join(dir, "etcd.log");
  const apiLog = join(dir, "kube-apiserver.log");

  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(join(dir, "sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
  const tls = servingCertificate(["127.0.0.1"], ["localhost"]);
  writeFileSync(join(dir, "tls.crt"), tls.certPem);
  writeFileSync(join(dir, "tls.key"), tls.keyPem);

  const users: KubeUser[] = [{ name: "admin", groups: ["system:masters"], token: randomBytes(24).toString("hex") }];
  const admin = users[0]!;
  const kubeconfigPath = join(dir, "kubeconfig");
  const writeUsers = (): void => {
    // token,user,uid,"group1,group2"
    writeFileSync(join(dir, "tokens.csv"), users.map((u) => `${u.token},${u.name},${u.name},"${u.groups.join(",")}"`).join("\n") + "\n");
    writeFileSync(kubeconfigPath, kubeconfigYaml());
  };
  const kubeconfigYaml = (current = "admin"): string =>
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server, "certificate-authority-data": Buffer.from(tls.caPem).toString("base64") } }],
      users: users.map((u) => ({ name: u.name, user: { token: u.token } })),
      contexts: users.map((u) => ({ name: u.name, context: { cluster: "test", user: u.name, namespace: "default" } })),
      "current-context": current,
    });
  writeUsers();

  const etcd = launch(join(bin, "etcd"), [
    "--name=test",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ], etcdLog);

  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(dir, "certs")}`,
    `--tls-cert-file=${join(dir, "tls.crt")}`,
    `--tls-private-key-file=${join(dir, "tls.key")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-cluster-ip-range=10.0.0.0/24",
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    "--disable-admission-plugins=ServiceAccount",
    "--allow-privileged=true",
    // Start-up speed: no flow-control bootstrap, no endpoint reconciling, no profiling endpoints.
    "--enable-priority-and-fairness=false",
    "--endpoint-reconciler-type=none",
    "--profiling=false",
  ];
  let api: ChildProcess | undefined;
  const caPem = tls.caPem;
  const readyz = async (): Promise<boolean> => {
    const response = await httpsGet(`${server}/readyz`, caPem, admin.token);
    return response === 200;
  };
  const start = async (): Promise<void> => {
    if (api !== undefined && api.exitCode === null && api.signalCode === null) return;
    api = launch(join(bin, "kube-apiserver"), apiArgs, apiLog);
    await waitFor("kube-apiserver", api, apiLog, readyz);
  };
  const stop = async (): Promise<void> => {
    await terminate(api);
    api = undefined;
  };

  const tryKubectl = (args: string[], options: KubectlOptions = {}): Promise<KubectlResult> =>
    new Promise((done, fail) => {
      const child = spawn(join(bin, "kubectl"), [`--kubeconfig=${kubeconfigPath}`, `--context=${options.user ?? "admin"}`, ...args], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.once("error", fail);
      child.once("close", (code) => done({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(options.input ?? "");
    });

  const kube: TestKube = {
    server,
    caPem,
    kubeconfigPath,
    admin,
    dir,
    kubeconfigYaml,
    kubeConfig(user = "admin") {
      const config = new KubeConfig();
      config.loadFromString(kubeconfigYaml(user));
      return config;
    },
    tryKubectl,
    async kubectl(args, options) {
      const result = await tryKubectl(args, options);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
      return result.stdout;
    },
    async addUser(name, groups = []) {
      if (users.some((u) => u.name === name)) throw new Error(`user ${name} exists`);
      const user = { name, groups, token: randomBytes(24).toString("hex") };
      users.push(user);
      writeUsers();
      if (api !== undefined) {
        await stop();
        await start();
      }
      return user;
    },
    async applyCrds() {
      await kube.kubectl(["apply", "--server-side", "-f", CRDS_DIR]);
      await kube.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", CRDS_DIR]);
    },
    stop,
    start,
    async destroy() {
      await stop();
      await terminate(etcd);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor("etcd", etcd, etcdLog, async () => (await httpGet(`http://127.0.0.1:${etcdPort}/health`)) === 200);
    await start();
  } catch (error) {
    await kube.destroy().catch(() => undefined);
    throw error;
  }
  return kube;
}

async function httpGet(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  return response.status;
}

// fetch cannot take a per-request CA, so node:https with the test CA.
async function httpsGet(url: string, ca: string, token: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      res.once("end", () => done(res.statusCode ?? 0));
    });
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", fail);
    req.end();
  });
}

/** A throw-away CA and a serving certificate it signed (node:crypto has no X.509 writer; node-forge does). */
function servingCertificate(ips: string[], dnsNames: string[]): { caPem: string; certPem: string; keyPem: string } {
  const rsaPair = (): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const key = forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey;
    return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
  };
  const certificate = (subject: string, keys: { publicKey: forge.pki.rsa.PublicKey }, extensions: object[]): forge.pki.Certificate => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = "01" + randomBytes(8).toString("hex");
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 7 * 86400_000);
    cert.setSubject([{ name: "commonName", value: subject }]);
    cert.setExtensions(extensions);
    return cert;
  };
  const ca = rsaPair();
  const caCert = certificate("intentgate-test-ca", ca, [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true, cRLSign: true }]);
  caCert.setIssuer(caCert.subject.attributes);
  caCert.sign(ca.privateKey, forge.md.sha256.create());
  const leaf = rsaPair();
  const altNames = [...ips.map((ip) => ({ type: 7, ip })), ...dnsNames.map((value) => ({ type: 2, value }))];
  const leafCert = certificate("kube-apiserver", leaf, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  leafCert.setIssuer(caCert.subject.attributes);
  leafCert.sign(ca.privateKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(leafCert),
    keyPem: forge.pki.privateKeyToPem(leaf.privateKey),
  };
}
