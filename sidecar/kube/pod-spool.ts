// A Kubernetes-mode sidecar's spool, in <state>/audit. The controller takes lines only in this pod's
// stream (named for its UID), so a spool found there for another stream could never ship: a state
// folder kept from an earlier pod, or a spool begun before streams were named for the pod's UID. It
// is moved aside whole (an operator can still read it: `intentgate audit verify|export --spool`) and
// this pod starts its own stream. The injected state folder is an emptyDir, so normally this only
// ever reopens the pod's own spool after a container restart.
import { renameSync } from "node:fs";
import type { Logger } from "pino";
import { AuditSpool, type SpoolOptions } from "../audit/spool.ts";

export function openPodSpool(options: SpoolOptions, log: Logger, now: () => number = Date.now): AuditSpool {
  const found = AuditSpool.open(options);
  if (found.stream === options.stream) return found;
  // Nothing holds its files yet: a spool opens its segment only when it first appends.
  const kept = `${options.dir}-retired-${now()}`;
  renameSync(options.dir, kept);
  log.warn({ stream: found.stream, kept, pending_bytes: found.pendingBytes(), this_stream: options.stream }, "the audit spool belongs to another stream, which the controller will not take from this pod: moved aside, unshipped; this pod starts its own");
  return AuditSpool.open(options);
}
