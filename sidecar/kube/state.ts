// The last good snapshot on disk, so a restarted sidecar enforces before the controller answers.
// Stored with the time the controller last confirmed it: staleness is measured from that moment,
// not from the restart, so a restart cannot reset the fail-closed bound. The file holds the
// tenant's keys, so it is written 0600 and replaced atomically (write, fsync, rename).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkSnapshot, type Snapshot } from "../../wire/snapshot.ts";

export interface SavedState {
  snapshot: Snapshot;
  /** Unix ms of the controller's last snapshot or heartbeat for this version. */
  confirmedAt: number;
}

const SNAPSHOT = "snapshot.json";
const CONFIRMED = "confirmed.json";

export function saveSnapshot(dir: string, snapshot: Snapshot, confirmedAt: number): void {
  writeAtomically(join(dir, SNAPSHOT), JSON.stringify(snapshot));
  saveConfirmation(dir, snapshot.version, confirmedAt);
}

/** Heartbeats only move the confirmation time: a small file, so the snapshot is not rewritten each time. */
export function saveConfirmation(dir: string, version: string, confirmedAt: number): void {
  writeAtomically(join(dir, CONFIRMED), JSON.stringify({ version, confirmedAt }));
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The saved state, or undefined when there is none; a damaged file is reported, never trusted. */
export function loadState(dir: string): { ok: true; state: SavedState | undefined } | { ok: false; reason: string } {
  let text: string;
  try {
    text = readFileSync(join(dir, SNAPSHOT), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ok: true, state: undefined };
    return { ok: false, reason: (error as Error).message };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: "saved snapshot is not JSON" };
  }
  const checked = checkSnapshot(parsed);
  if (!checked.ok) return { ok: false, reason: `saved snapshot: ${checked.reason}` };
  // Without a confirmation for this very version, the snapshot counts as confirmed when it was built.
  let confirmedAt = checked.snapshot.builtAt * 1000;
  try {
    const c = JSON.parse(readFileSync(join(dir, CONFIRMED), "utf8")) as { version?: unknown; confirmedAt?: unknown };
    if (c.version === checked.snapshot.version && typeof c.confirmedAt === "number") confirmedAt = Math.max(confirmedAt, c.confirmedAt);
  } catch {
    // no confirmation file: keep builtAt
  }
  return { ok: true, state: { snapshot: checked.snapshot, confirmedAt } };
}
