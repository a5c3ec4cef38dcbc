// The host table: which authorities (host:port) name which MCP server, for requests that reach the
// sidecar addressed to the server itself (iptables redirect, or the sidecar used as HTTP proxy).
// Built once per configuration or snapshot and swapped whole; lookups never mutate it.

export type UnknownHosts = "refuse" | "passthrough";

export interface HostedServer {
  /** The server's name: the `server` of its tool calls. */
  server: string;
  /** Its Streamable HTTP endpoint. */
  url: string;
  /** Its legacy HTTP+SSE endpoint, if any. */
  sseUrl?: string | undefined;
  /** Extra authorities (host[:port], port 80 when left out) agents use for it. */
  hosts?: readonly string[] | undefined;
}

export type HostMatch = { server: string; kind: "streamable" | "legacy-sse" };

interface Entry {
  server: string;
  streamable: string;
  sse: string | undefined;
}

/**
 * Normalises an authority to "hostname:port": lower case, no trailing dot, the port spelled out.
 * Undefined for anything that is not a bare authority (userinfo, a path, spaces, a bad port).
 */
export function authorityKey(authority: string, defaultPort: number): string | undefined {
  // Every request names its Host, almost always one of a few: remember the last ones (bounded, so
  // varied Host values cannot grow it) instead of parsing a URL per request.
  const memo = defaultPort === 80 ? knownKeys80 : undefined;
  const known = memo?.get(authority);
  if (known !== undefined) return known === null ? undefined : known;
  const key = parseAuthority(authority, defaultPort);
  if (memo !== undefined) {
    if (memo.size >= MEMO_SIZE) memo.clear();
    memo.set(authority, key ?? null);
  }
  return key;
}

const MEMO_SIZE = 256;
const knownKeys80 = new Map<string, string | null>();

function parseAuthority(authority: string, defaultPort: number): string | undefined {
  if (authority === "" || /[/?#@\\\s]/.test(authority)) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${authority}`);
  } catch {
    return undefined;
  }
  const hostname = url.hostname.replace(/\.$/, "");
  if (hostname === "") return undefined;
  // new URL drops the port when it is http's default; an explicit :80 and none mean the same here.
  return `${hostname}:${url.port === "" ? (/:80$/.test(authority) ? 80 : defaultPort) : url.port}`;
}

const pathOf = (url: URL): string => url.pathname.replace(/(.)\/+$/, "$1");

export class HostTable {
  readonly unknownHosts: UnknownHosts;
  readonly #byAuthority: ReadonlyMap<string, readonly Entry[]>;

  private constructor(byAuthority: Map<string, Entry[]>, unknownHosts: UnknownHosts) {
    this.#byAuthority = byAuthority;
    this.unknownHosts = unknownHosts;
  }

  /** Every server's own URL authority counts, plus its declared hosts. Throws on an unusable host. */
  static build(servers: readonly HostedServer[], unknownHosts: UnknownHosts = "refuse"): HostTable {
    const byAuthority = new Map<string, Entry[]>();
    for (const s of servers) {
      const url = new URL(s.url);
      const sse = s.sseUrl === undefined ? undefined : new URL(s.sseUrl);
      const entry: Entry = { server: s.server, streamable: pathOf(url), sse: sse && sse.host === url.host ? pathOf(sse) : undefined };
      const own = authorityKey(url.host, url.protocol === "https:" ? 443 : 80);
      const keys = new Set(own === undefined ? [] : [own]);
      for (const host of s.hosts ?? []) {
        const key = authorityKey(host, 80);
        if (key === undefined) throw new Error(`server ${s.server}: "${host}" is not a host[:port] authority`);
        keys.add(key);
      }
      for (const key of keys) byAuthority.set(key, [...(byAuthority.get(key) ?? []), entry]);
    }
    return new HostTable(byAuthority, unknownHosts);
  }

  static readonly empty = new HostTable(new Map(), "refuse");

  /** True when some server declares this (normalised) authority. */
  declares(key: string): boolean {
    return this.#byAuthority.has(key);
  }

  /** The servers declared at this authority, for the sidecar's own /mcp/<server> layout. */
  serversAt(key: string): readonly string[] {
    return (this.#byAuthority.get(key) ?? []).map((e) => e.server);
  }

  /**
   * The one server at this authority whose endpoint is this path. Several servers may share an
   * authority (distinct paths); a path that two of them claim matches neither, as does an unknown path.
   */
  match(key: string, path: string): HostMatch | undefined {
    const p = path.replace(/(.)\/+$/, "$1");
    const found: HostMatch[] = [];
    for (const e of this.#byAuthority.get(key) ?? []) {
      if (e.streamable === p) found.push({ server: e.server, kind: "streamable" });
      else if (e.sse === p) found.push({ server: e.server, kind: "legacy-sse" });
    }
    return found.length === 1 ? found[0] : undefined;
  }
}
