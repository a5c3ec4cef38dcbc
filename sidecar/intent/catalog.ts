// The tools the sidecar has seen listed: `server.tool` names and descriptions, recorded from the
// upstreams' tools/list answers (before any per-caller filtering). The built-in classifier matches
// prompts against it and the OpenAI adapter shows it to the model. Entries are added or updated,
// never removed (a paginated listing arrives page by page); `generation` changes whenever an entry
// does, so cached recommendations made from an older catalog are not reused.

export interface CatalogEntry {
  name: string;
  description: string;
}

export const MAX_CATALOG_TOOLS = 4096;
export const MAX_DESCRIPTION = 2048;

export class ToolCatalog {
  readonly #tools = new Map<string, string>();
  #generation = 0;
  #sorted: CatalogEntry[] | undefined = [];

  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#tools.size;
  }

  /** Records one tools/list result's `tools` array; malformed entries are skipped. */
  record(server: string, tools: readonly unknown[]): void {
    for (const tool of tools) {
      if (typeof tool !== "object" || tool === null) continue;
      const { name, description } = tool as { name?: unknown; description?: unknown };
      if (typeof name !== "string" || name === "" || name.length > 256) continue;
      const full = `${server}.${name}`;
      const text = typeof description === "string" ? description.slice(0, MAX_DESCRIPTION) : "";
      if (this.#tools.get(full) === text) continue;
      if (!this.#tools.has(full) && this.#tools.size >= MAX_CATALOG_TOOLS) continue;
      this.#tools.set(full, text);
      this.#generation++;
      this.#sorted = undefined;
    }
  }

  /** Every entry, sorted by name (the same catalog always reads the same). */
  entries(): readonly CatalogEntry[] {
    this.#sorted ??= [...this.#tools].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, description]) => ({ name, description }));
    return this.#sorted;
  }
}
