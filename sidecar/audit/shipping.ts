// Wires the spool to the configured audit database at start-up: opens the store, runs migrations
// (an unreachable database does not stop the sidecar: records wait in the spool), ships in the
// background, and reports to metrics and the log, including how full the bounded spool is.
import type { Logger } from "pino";
import type { SidecarConfig } from "../config/types.ts";
import type { SidecarMetrics } from "../observability/metrics.ts";
import { AuditShipper, type AuditSink } from "./shipper.ts";
import type { AuditSpool } from "./spool.ts";
import { describeDatabase, openAuditStore } from "./store/open.ts";
import type { AuditStore } from "./store/types.ts";

export interface AuditShipping {
  /** A checkpoint (or anything else worth shipping) was written. */
  wake(): void;
  /** Final shipment with a short deadline, then the store is closed. */
  close(): Promise<void>;
}

export interface ShippingDeps {
  log: Logger;
  metrics: SidecarMetrics;
  env: NodeJS.ProcessEnv;
  /** The configured database, already opened (openAuditDatabase) to be shared; shipping closes it. */
  store?: AuditStore | undefined;
}

const STORE_CLOSE_MS = 2000;

export async function startAuditShipping(spool: AuditSpool, audit: SidecarConfig["audit"], deps: ShippingDeps): Promise<AuditShipping> {
  const { log, metrics } = deps;
  const database = audit.database;
  if (database === undefined) {
    const watch = spoolWatch(audit.maxSpoolBytes, log, (bytes) => metrics.auditSpoolBytes.set(bytes));
    metrics.auditDatabaseUp.set(0);
    log.warn(
      { maxSpoolBytes: audit.maxSpoolBytes },
      "no audit database configured (audit.database): records stay in the local spool, and calls are refused once it holds maxSpoolBytes",
    );
    spool.onDurable(() => watch(spool.pendingBytes()));
    watch(spool.pendingBytes());
    return { wake: () => undefined, close: () => Promise.resolve() };
  }

  const store = deps.store ?? openAuditDatabase(database, deps);
  return shipSpool(spool, store, { where: describeDatabase(database, deps.env), maxSpoolBytes: audit.maxSpoolBytes, batch: database.shipBatch, retryMaxMs: database.retryMaxMs }, deps);
}

/** Opens the audit database; an embedded one belongs to one store per process, so open it once. */
export function openAuditDatabase(database: NonNullable<SidecarConfig["audit"]["database"]>, deps: Pick<ShippingDeps, "log" | "env">): AuditStore {
  return openAuditStore(database, deps.env, {
    onIdleError: (error) => deps.log.debug({ reason: error.message }, "idle audit database connection closed"),
  });
}

export interface ShipSettings {
  /** Where the records go, for logs (never a password). */
  where: string;
  maxSpoolBytes: number;
  batch?: number;
  retryMaxMs?: number;
  /** How long start-up waits for the first shipment (default: the shipper's). */
  startWaitMs?: number;
  /** After a wake-up, wait this long for more records (default: the shipper's, 100 ms). */
  lingerMs?: number;
}

/** Ships the spool to `store` in the background, reporting to metrics and the log; close() closes the store too. */
export async function shipSpool(spool: AuditSpool, store: AuditSink & { close(): Promise<void> }, settings: ShipSettings, deps: Omit<ShippingDeps, "env">): Promise<AuditShipping> {
  const { log, metrics } = deps;
  const watch = spoolWatch(settings.maxSpoolBytes, log, (bytes) => metrics.auditSpoolBytes.set(bytes));
  const shipper = new AuditShipper({
    spool,
    store,
    log: log.child({ auditDatabase: settings.where }),
    ...(settings.batch !== undefined ? { batch: settings.batch } : {}),
    ...(settings.retryMaxMs !== undefined ? { retryMaxMs: settings.retryMaxMs } : {}),
    ...(settings.startWaitMs !== undefined ? { startWaitMs: settings.startWaitMs } : {}),
    ...(settings.lingerMs !== undefined ? { lingerMs: settings.lingerMs } : {}),
    observer: {
      shipped: (records, checkpoints) => {
        if (records > 0) metrics.auditShipped.inc({ kind: "record" }, records);
        if (checkpoints > 0) metrics.auditShipped.inc({ kind: "checkpoint" }, checkpoints);
      },
      failed: () => metrics.auditShipFailures.inc(),
      database: (up) => metrics.auditDatabaseUp.set(up ? 1 : 0),
      pending: watch,
    },
  });
  log.info({ auditDatabase: settings.where }, "shipping the audit spool");
  await shipper.start();
  return {
    wake: () => shipper.wake(),
    async close() {
      await shipper.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([store.close().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, STORE_CLOSE_MS)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Sets the pending-bytes gauge and logs when the spool crosses half and nine tenths of its bound
 * (once each, until it drains below a quarter), so a growing backlog is seen before calls are refused.
 */
function spoolWatch(maxBytes: number, log: Logger, gauge: (bytes: number) => void): (bytes: number) => void {
  let level = 0;
  return (bytes) => {
    gauge(bytes);
    const next = bytes >= maxBytes * 0.9 ? 2 : bytes >= maxBytes * 0.5 ? 1 : bytes < maxBytes * 0.25 ? 0 : level;
    if (next > level) {
      const context = { pendingBytes: bytes, maxSpoolBytes: maxBytes };
      if (next === 2) log.error(context, "audit spool is over 90% full: calls will be refused when it is full");
      else log.warn(context, "audit spool is over half full: the database is not keeping up or is unreachable");
    } else if (next < level && next === 0) {
      log.info({ pendingBytes: bytes, maxSpoolBytes: maxBytes }, "audit spool drained below a quarter of its bound");
    }
    level = next;
  };
}
