// The audit keys a sidecar holds: the chain key (HMAC) and an Ed25519 key that signs checkpoints.
// The public half is all an auditor needs to check checkpoints offline.
import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "../base64url.ts";

export interface AuditKeyFile {
  version: 1;
  key_id: string;
  /** base64url, 32 bytes. */
  chain_key: string;
  /** PEM, PKCS#8 Ed25519. */
  signing_key: string;
  /** PEM, SPKI Ed25519. */
  public_key: string;
}

export class AuditKeys {
  readonly keyId: string;
  readonly chainKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;

  private constructor(keyId: string, chainKey: KeyObject, signingKey: KeyObject, publicKey: KeyObject) {
    this.keyId = keyId;
    this.chainKey = chainKey;
    this.signingKey = signingKey;
    this.publicKey = publicKey;
  }

  static generateFile(keyId = `audit-${randomBytes(4).toString("hex")}`): AuditKeyFile {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    return {
      version: 1,
      key_id: keyId,
      chain_key: encodeBase64url(randomBytes(32)),
      signing_key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      public_key: publicKey.export({ format: "pem", type: "spki" }).toString(),
    };
  }

  static fromFile(value: unknown): AuditKeys {
    const f = value as Partial<AuditKeyFile> | null;
    if (typeof f !== "object" || f === null || f.version !== 1) throw new Error("audit key file must be an object with version 1");
    if (typeof f.key_id !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(f.key_id)) throw new Error("audit key file: key_id is invalid");
    const chain = typeof f.chain_key === "string" ? decodeBase64url(f.chain_key) : undefined;
    if (chain?.length !== 32) throw new Error("audit key file: chain_key must be 32 bytes of base64url");
    if (typeof f.signing_key !== "string") throw new Error("audit key file: signing_key is missing");
    const signingKey = createPrivateKey(f.signing_key);
    if (signingKey.asymmetricKeyType !== "ed25519") throw new Error("audit key file: signing_key must be Ed25519");
    return new AuditKeys(f.key_id, createSecretKey(chain), signingKey, createPublicKey(signingKey));
  }

  /** Reads a public key file (PEM) for offline verification. */
  static publicKeyFromPem(pem: string): KeyObject {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== "ed25519") throw new Error("audit public key must be Ed25519");
    return key;
  }
}
