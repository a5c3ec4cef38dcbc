// Pinned tool definitions (McpServer spec.pinnedTools): a server must keep listing a pinned tool
// exactly as it was reviewed. The sidecar learns definitions from the tools/list answers it relays;
// a listed definition that differs from its pin is removed from the list, and a call to a pinned
// tool is refused unless the definition the server last listed matches the pin. Unpinned tools are
// not affected (allowedTools limits which tools exist at all).
import { LRUCache } from "lru-cache";
import { toolDefinitionHash } from "../../wire/snapshot.ts";
import { ALLOW, block, type Check } from "./types.ts";

/** Stored for a name that one list gave two different definitions, or a definition that is not JSON. */
const AMBIGUOUS = "ambiguous";

/**
 * The definition each server last listed for each tool, by hash. Per server (name and URL), not per
 * session, and kept across snapshots: a new pin is compared with what was already seen, and a
 * server that changes a tool for one session has changed it for every session.
 */
export class ToolDefinitions {
  readonly #seen: LRUCache<string, string>;

  constructor(maxTools = 50_000) {
    this.#seen = new LRUCache({ max: maxTools });
  }

  /**
   * Records one tools/list result's tools and returns what it recorded, by tool name. A tool absent
   * from the result keeps what was seen before (lists are paginated).
   */
  record(server: ServerKey, tools: readonly unknown[]): ReadonlyMap<string, string> {
    const hashes = new Map<string, string>();
    for (const tool of tools) {
      const name = typeof tool === "object" && tool !== null ? (tool as { name?: unknown }).name : undefined;
      if (typeof name !== "string") continue;
      const hash = hashOf(tool);
      const earlier = hashes.get(name);
      hashes.set(name, earlier === undefined || earlier === hash ? hash : AMBIGUOUS);
    }
    for (const [name, hash] of hashes) this.#seen.set(keyOf(server, name), hash);
    return hashes;
  }

  /** The hash of the definition last listed, "ambiguous", or undefined when none was seen. */
  seen(server: ServerKey, tool: string): string | undefined {
    return this.#seen.get(keyOf(server, tool));
  }
}

export interface ServerKey {
  name: string;
  url: string;
}

export interface PinnedServer extends ServerKey {
  pinnedTools: Readonly<Record<string, string>>;
}

export interface ToolPins {
  /** The per-call check: tool_definition_unverified, tool_definition_changed. */
  check: Check;
  /** Told every tools/list result's tools as the upstream sent them, before `visible` filters them. */
  listed(server: string, tools: readonly unknown[]): void;
  /** Which listed tools the agent sees: a pinned tool only when its definition matches the pin. */
  visible(server: string): (tool: string) => boolean;
}

/** `onMismatch` hears of every listed pinned tool whose definition differs from its pin. */
export function createToolPins(servers: readonly PinnedServer[], definitions: ToolDefinitions, onMismatch: (server: string, tool: string, seen: string, pin: string) => void): ToolPins {
  const byName = new Map(servers.map((s) => [s.name, s]));
  const pinned = new Map(servers.filter((s) => Object.keys(s.pinnedTools).length > 0).map((s) => [s.name, s]));
  const pinOf = (server: PinnedServer, tool: string): string | undefined => (Object.hasOwn(server.pinnedTools, tool) ? server.pinnedTools[tool] : undefined);
  const everything = (): boolean => true;
  return {
    check: {
      stage: "request",
      run(ctx) {
        const server = pinned.get(ctx.server);
        const pin = server && pinOf(server, ctx.tool);
        if (server === undefined || pin === undefined) return ALLOW;
        const seen = definitions.seen(server, ctx.tool);
        if (seen === pin) return ALLOW;
        if (seen === undefined) {
          return block("tool_definition_unverified", `tool "${ctx.tool}" of MCP server ${ctx.server} is pinned, and no tools/list answer has shown its definition yet: list the tools first`);
        }
        return block("tool_definition_changed", `the definition MCP server ${ctx.server} last listed for tool "${ctx.tool}" (${seen}) is not the pinned one (${pin})`);
      },
    },
    listed(name, tools) {
      const server = byName.get(name);
      if (server === undefined) return;
      for (const [tool, seen] of definitions.record(server, tools)) {
        const pin = pinOf(server, tool);
        if (pin !== undefined && seen !== pin) onMismatch(name, tool, seen, pin);
      }
    },
    visible(name) {
      const server = pinned.get(name);
      if (server === undefined) return everything;
      return (tool) => {
        const pin = pinOf(server, tool);
        return pin === undefined || definitions.seen(server, tool) === pin;
      };
    },
  };
}

function hashOf(tool: unknown): string {
  try {
    return toolDefinitionHash(tool);
  } catch {
    return AMBIGUOUS; // not canonicalizable: it can match no pin
  }
}

const keyOf = (server: ServerKey, tool: string): string => JSON.stringify([server.name, server.url, tool]);
