// A log line that can repeat on every call (a full spool refuses every call until it drains) is
// written once per interval, with the count of the ones left out since: the refusals are counted
// exactly by the metrics and recorded in the audit log, the application log only needs to say so.
import type { Logger } from "pino";

export type RepeatedLog = (fields: Record<string, unknown>, message: string) => void;

export function repeatedLog(log: Logger, level: "error" | "warn", intervalMs: number, now: () => number = Date.now): RepeatedLog {
  let last = -Infinity;
  let suppressed = 0;
  return (fields, message) => {
    const at = now();
    if (at - last < intervalMs) {
      suppressed++;
      return;
    }
    log[level]({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    last = at;
    suppressed = 0;
  };
}
