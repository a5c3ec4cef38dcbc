// The revocation list: token and hop ids that no longer verify. A root id revokes every token
// attenuated from it; a hop id revokes that hop and what was attenuated from it, not its parent.

export interface RevocationEntry {
  id: string;
  reason?: string;
  revoked_at: string;
}

export interface RevocationFile {
  version: 1;
  revoked: RevocationEntry[];
}

export class RevocationFileError extends Error {
  readonly code = "bad_revocation_file";
}

export class RevocationSet {
  readonly #ids: ReadonlySet<string>;

  constructor(ids: Iterable<string>) {
    this.#ids = new Set(ids);
  }

  get size(): number {
    return this.#ids.size;
  }

  isRevoked(ids: readonly string[]): boolean {
    for (const id of ids) if (this.#ids.has(id)) return true;
    return false;
  }

  static fromFile(value: unknown): RevocationSet {
    return new RevocationSet(parseRevocationFile(value).revoked.map((entry) => entry.id));
  }
}

export function parseRevocationFile(value: unknown): RevocationFile {
  const fail = (message: string): never => {
    throw new RevocationFileError(message);
  };
  if (typeof value !== "object" || value === null) fail("revocation file must be a JSON object");
  const file = value as Partial<RevocationFile>;
  if (file.version !== 1) fail("revocation file version must be 1");
  if (!Array.isArray(file.revoked)) fail("revocation file needs a revoked array");
  for (const [i, entry] of (file.revoked as RevocationEntry[]).entries()) {
    if (typeof entry !== "object" || entry === null || typeof entry.id !== "string" || !/^[A-Za-z0-9_-]{8,64}$/.test(entry.id)) {
      fail(`revoked[${i}].id is not a token or hop id`);
    }
  }
  return file as RevocationFile;
}
