// Small helpers the long-running commands share: host:port flags and a clean stop on SIGINT/SIGTERM.
import type { Logger } from "pino";
import { CliError } from "../errors.ts";

export function parseAddress(text: string, flag: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || m[1] === "" || port > 65535) throw new CliError(`${flag} must be host:port, not "${text}"`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

export function waitForSignal(log: Logger, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, "shutting down");
      void close().then(resolve, resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
