// The keys an auditor verifies with: audit key files (--keys: chain key for MACs, and the public key
// under its key id) and public keys alone (--public-key PEM: checkpoints only). A PEM carries no key
// id, so it is trusted for any checkpoint key id it verifies.
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { AuditKeys, checkpointSignatureValid, recomputeLinks, type AuditCheckpoint, type AuditRecord, type VerifyKeys } from "../../wire/audit/index.ts";
import { CliError } from "../errors.ts";
import { readJsonFile } from "../files.ts";

export interface AuditorKeys {
  chain: Array<{ keyId: string; key: KeyObject }>;
  labelled: Map<string, KeyObject>;
  unlabelled: KeyObject[];
}

export function loadAuditorKeys(keyFiles: readonly string[], pemFiles: readonly string[]): AuditorKeys {
  const keys: AuditorKeys = { chain: [], labelled: new Map(), unlabelled: [] };
  for (const path of keyFiles) {
    let file: AuditKeys;
    try {
      file = AuditKeys.fromFile(readJsonFile(path, "audit key file"));
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${path}: ${(error as Error).message}`);
    }
    keys.chain.push({ keyId: file.keyId, key: file.chainKey });
    keys.labelled.set(file.keyId, file.publicKey);
  }
  for (const path of pemFiles) {
    let pem: string;
    try {
      pem = readFileSync(path, "utf8");
    } catch (error) {
      throw new CliError(`cannot read public key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      keys.unlabelled.push(AuditKeys.publicKeyFromPem(pem));
    } catch (error) {
      throw new CliError(`${path} is not an Ed25519 public key (PEM): ${(error as Error).message.split("\n")[0]}`);
    }
  }
  return keys;
}

/**
 * The keys for one stream. With several key files, the chain key is the one that authenticates the
 * stream's first record (else the one named by its checkpoints, else the first): every key given is
 * trusted for every stream.
 */
export function keysForStream(keys: AuditorKeys, first: AuditRecord | undefined, checkpoints: readonly AuditCheckpoint[]): VerifyKeys {
  const publicKeys = new Map(keys.labelled);
  for (const id of new Set(checkpoints.map((c) => c.key_id))) {
    if (publicKeys.has(id)) continue;
    const named = checkpoints.filter((c) => c.key_id === id);
    const key = keys.unlabelled.find((k) => named.some((c) => checkpointSignatureValid(c, k))) ?? keys.unlabelled[0];
    if (key !== undefined) publicKeys.set(id, key);
  }
  if (keys.chain.length === 0) return { publicKeys };
  const byMac = first === undefined ? undefined : keys.chain.find((k) => macOf(first, k.key) === first.mac);
  const byId = keys.chain.find((k) => checkpoints.some((c) => c.key_id === k.keyId));
  const chosen = byMac ?? byId ?? keys.chain[0];
  return chosen === undefined ? { publicKeys } : { publicKeys, chainKey: chosen.key };
}

function macOf(record: AuditRecord, key: KeyObject): string | undefined {
  try {
    return recomputeLinks(record, key).mac;
  } catch {
    return undefined; // not canonicalisable: the verifier reports the line as unreadable
  }
}
