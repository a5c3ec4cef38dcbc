// The webhook's TLS, managed by the controller itself: a CA and a serving certificate kept in a
// Secret of the controller's namespace (created when missing, reused while valid, rotated before
// expiry), and the CA written into the caBundle of every webhook of the MutatingWebhookConfiguration.
// Keys come from node:crypto; node-forge only writes and reads the X.509 certificates.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from "@kubernetes/client-node";
import forge from "node-forge";

export interface WebhookTls {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** The PEM the API server trusts: the current CA, and the previous one while it is still valid. */
  caBundle: string;
  notAfter: Date;
}

export interface WebhookTlsOptions {
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  namespace: string;
  secretName: string;
  webhookConfigName: string;
  /** Names the API server dials: "<service>.<namespace>.svc" and friends. */
  dnsNames: string[];
  ipAddresses?: string[];
  validityDays?: number;
  /** Renew when less than this is left (default a third of the validity). */
  renewBeforeDays?: number;
  now?: () => Date;
}

/** What the Secret holds: the served pair plus the CA's key (never returned to callers). */
type Stored = WebhookTls & { caKeyPem: string };

const DAY = 86_400_000;
const KEYS = { caCert: "ca.crt", caKey: "ca.key", cert: "tls.crt", key: "tls.key", bundle: "ca-bundle.crt" } as const;

/** Makes sure the Secret holds a usable pair and the webhook configuration trusts its CA; returns what to serve. */
export async function ensureWebhookTls(o: WebhookTlsOptions): Promise<WebhookTls> {
  const stored = await ensureSecret(o);
  await patchCaBundle(o, stored.caBundle);
  return { caPem: stored.caPem, certPem: stored.certPem, keyPem: stored.keyPem, caBundle: stored.caBundle, notAfter: stored.notAfter };
}

async function ensureSecret(o: WebhookTlsOptions): Promise<Stored> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await readSecret(o);
    const current = existing && decode(existing);
    const now = o.now?.() ?? new Date();
    const validity = o.validityDays ?? 365;
    const renewBefore = (o.renewBeforeDays ?? validity / 3) * DAY;
    if (current !== undefined && usable(current, o, now, renewBefore)) return current;
    // Keep a CA with time left (agents of the old serving certificate still verify); replace one near its end.
    const keepCa = current !== undefined && caUsable(current.caPem, now, renewBefore * 2);
    const previousCa = current !== undefined && !keepCa && caUsable(current.caPem, now, 0) ? current.caPem : undefined;
    const next = issue(o, now, validity, keepCa ? current : undefined, previousCa);
    const body: V1Secret = {
      metadata: { name: o.secretName, namespace: o.namespace, labels: { "app.kubernetes.io/managed-by": "intentgate-controller" }, ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}) },
      type: "Opaque",
      data: encode(next),
    };
    try {
      if (existing === undefined) await o.core.createNamespacedSecret({ namespace: o.namespace, body });
      else await o.core.replaceNamespacedSecret({ name: o.secretName, namespace: o.namespace, body });
      return next;
    } catch (error) {
      // Another replica wrote it first (create: 409, replace: 409 on a stale resourceVersion): read theirs.
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  throw new Error(`webhook TLS secret ${o.namespace}/${o.secretName}: too many concurrent updates`);
}

async function readSecret(o: WebhookTlsOptions): Promise<V1Secret | undefined> {
  try {
    return await o.core.readNamespacedSecret({ name: o.secretName, namespace: o.namespace });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

async function patchCaBundle(o: WebhookTlsOptions, caBundle: string): Promise<void> {
  if (o.webhookConfigName === "") return; // TLS for the sidecar API only: no injector to keep current
  const encoded = Buffer.from(caBundle).toString("base64");
  for (let attempt = 0; attempt < 5; attempt++) {
    const config = await o.admission.readMutatingWebhookConfiguration({ name: o.webhookConfigName });
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === encoded)) return;
    for (const w of webhooks) w.clientConfig.caBundle = encoded;
    try {
      await o.admission.replaceMutatingWebhookConfiguration({ name: o.webhookConfigName, body: config });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  throw new Error(`MutatingWebhookConfiguration ${o.webhookConfigName}: too many concurrent updates`);
}

function decode(secret: V1Secret): Stored | undefined {
  const get = (key: string): string | undefined => {
    const value = secret.data?.[key];
    return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
  };
  const [caPem, certPem, keyPem, caKey] = [get(KEYS.caCert), get(KEYS.cert), get(KEYS.key), get(KEYS.caKey)];
  if (caPem === undefined || certPem === undefined || keyPem === undefined || caKey === undefined) return undefined;
  try {
    return { caPem, caKeyPem: caKey, certPem, keyPem, caBundle: get(KEYS.bundle) ?? caPem, notAfter: new Date(new X509Certificate(certPem).validTo) };
  } catch {
    return undefined;
  }
}

function encode(tls: Stored): Record<string, string> {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return { [KEYS.caCert]: b64(tls.caPem), [KEYS.caKey]: b64(tls.caKeyPem), [KEYS.cert]: b64(tls.certPem), [KEYS.key]: b64(tls.keyPem), [KEYS.bundle]: b64(tls.caBundle) };
}

function caUsable(caPem: string, now: Date, margin: number): boolean {
  try {
    const ca = new X509Certificate(caPem);
    return ca.ca && new Date(ca.validTo).getTime() - now.getTime() > margin;
  } catch {
    return false;
  }
}

/** Valid now and for longer than the margin, signed by the stored CA, and naming every name asked for. */
function usable(tls: WebhookTls, o: WebhookTlsOptions, now: Date, margin: number): boolean {
  try {
    const cert = new X509Certificate(tls.certPem);
    const ca = new X509Certificate(tls.caPem);
    if (!cert.verify(ca.publicKey) || !cert.checkPrivateKey(createPrivateKey(tls.keyPem))) return false;
    if (new Date(cert.validFrom) > now || new Date(cert.validTo).getTime() - now.getTime() <= margin) return false;
    return o.dnsNames.every((n) => cert.checkHost(n, { wildcards: false }) !== undefined) && (o.ipAddresses ?? []).every((ip) => cert.checkIP(ip) !== undefined);
  } catch {
    return false;
  }
}

function rsaKeys(): { pem: string; privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function certificate(subject: string, publicKey: forge.pki.rsa.PublicKey, now: Date, days: number, extensions: object[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = "01" + randomBytes(16).toString("hex"); // positive, unpredictable
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000); // clock skew
  cert.validity.notAfter = new Date(now.getTime() + days * DAY);
  cert.setSubject([{ name: "commonName", value: subject }]);
  cert.setExtensions(extensions);
  return cert;
}

/** A serving certificate, signed by the kept CA or by a new one (then the old CA stays in the bundle while valid). */
function issue(o: WebhookTlsOptions, now: Date, days: number, keep: Stored | undefined, previousCa: string | undefined): Stored {
  let caPem: string;
  let caKeyPem: string;
  let caBundle: string;
  if (keep !== undefined) {
    caPem = keep.caPem;
    caKeyPem = keep.caKeyPem;
    caBundle = keep.caBundle;
  } else {
    const ca = rsaKeys();
    const caCert = certificate("intentgate-webhook-ca", ca.publicKey, now, days * 2, [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ]);
    caCert.setIssuer(caCert.subject.attributes);
    caCert.sign(ca.privateKey, forge.md.sha256.create());
    caPem = forge.pki.certificateToPem(caCert);
    caKeyPem = ca.pem;
    caBundle = previousCa === undefined ? caPem : `${caPem}${previousCa}`;
  }
  const caKey = forge.pki.privateKeyFromPem(caKeyPem) as forge.pki.rsa.PrivateKey;
  const caCert = forge.pki.certificateFromPem(caPem);
  const leaf = rsaKeys();
  const altNames = [...o.dnsNames.map((value) => ({ type: 2, value })), ...(o.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  const cert = certificate(o.dnsNames[0] ?? o.ipAddresses?.[0] ?? "intentgate-webhook", leaf.publicKey, now, days, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.sign(caKey, forge.md.sha256.create());
  return { caPem, caKeyPem, caBundle, certPem: forge.pki.certificateToPem(cert), keyPem: leaf.pem, notAfter: cert.validity.notAfter };
}
