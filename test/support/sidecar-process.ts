// A sidecar in its own process (`node cli/main.ts sidecar --config …`), for tests that must kill
// it the hard way. Its start-up log line gives the URLs it listens on.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { ROOT } from "./gateway.ts";

export interface SidecarProcess {
  url: string;
  adminUrl: string;
  child: ChildProcess;
  /** Everything it logged so far (pino JSON lines). */
  logs(): string;
  /** SIGKILL: no shutdown code runs. */
  kill9(): Promise<void>;
  /** SIGTERM: graceful shutdown (final checkpoint and shipment). */
  stop(): Promise<number | null>;
}

export async function spawnSidecar(configFile: string, env: NodeJS.ProcessEnv = process.env, startTimeoutMs = 20_000): Promise<SidecarProcess> {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "sidecar", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"], env });
  let logs = "";
  child.stdout.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr.on("data", (c: Buffer) => (logs += c.toString()));
  const exited = once(child, "exit");
  const started = new Promise<{ url: string; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sidecar did not start in ${startTimeoutMs} ms:\n${logs}`)), startTimeoutMs);
    const look = (): void => {
      const line = logs.split("\n").find((l) => l.includes('"sidecar listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off("data", look);
      resolve(JSON.parse(line) as { url: string; admin: string });
    };
    child.stdout.on("data", look);
    exited.then(
      () => {
        clearTimeout(timer);
        reject(new Error(`sidecar exited before it started:\n${logs}`));
      },
      (error: Error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
  const { url, admin } = await started;
  return {
    url,
    adminUrl: admin,
    child,
    logs: () => logs,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
