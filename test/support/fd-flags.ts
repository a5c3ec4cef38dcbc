// The open flags (O_DSYNC, O_APPEND, ...) of this process's descriptors on a path, read from /proc:
// how a test checks that a file is written with the durability it claims.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export function openFlags(path: string): number[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== path) return [];
      const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      return flags === undefined ? [] : [Number.parseInt(flags, 8)];
    } catch {
      return []; // closed meanwhile
    }
  });
}
