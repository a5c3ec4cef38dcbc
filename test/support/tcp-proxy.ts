// A real-network fault injector: a TCP proxy on 127.0.0.1 that forwards to a target until told to
// blackhole. Blackholed connections silently drop every byte both ways and never pass a close on, so
// the client sees a half-open connection that stays open and says nothing; connections opened while
// blackholed get the same. resume() lets new connections through again (blackholed ones stay dead,
// as real half-open connections do, until the client gives up on them).
import { connect, createServer, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Open client connections. */
  connections(): number;
  blackhole(): void;
  resume(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  dead: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let blackholed = false;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, dead: blackholed };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on("data", (data) => {
        if (!pair.dead) to.write(data);
      });
      from.on("close", () => {
        if (from === client) pairs.delete(pair);
        if (!pair.dead || from === client) to.destroy();
      });
      from.on("error", () => undefined);
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => pairs.size,
    blackhole() {
      blackholed = true;
      for (const pair of pairs) pair.dead = true;
    },
    resume() {
      blackholed = false;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
