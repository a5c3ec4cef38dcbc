// The one root logger, built in main and injected everywhere; secrets never reach a log line.
import { pino, type Logger } from "pino";

export const REDACTED_PATHS = [
  "token",
  "*.token",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "prompt",
  "*.prompt",
  "arguments",
  "*.arguments",
];

export function createLogger(level: string, destination?: NodeJS.WritableStream, component = "intentgate-sidecar"): Logger {
  const options = { level, base: { component }, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination === undefined ? pino(options) : pino(options, destination as never);
}
