// POSIX path normalisation for the `under` argument operator, written out so that browsers and edge
// runtimes (no node:path) decide exactly as Node's path.posix.normalize does for absolute paths.

/** Normalises an absolute path: repeated slashes collapse, `.` goes, `..` climbs (never above `/`). */
export function normalizeAbsolute(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

/** True when a path, after resolving `.`, `..` and repeated slashes, is the prefix or inside it. */
export function isUnder(actual: unknown, prefix: string): boolean {
  if (typeof actual !== "string" || !actual.startsWith("/") || actual.includes("\0")) return false;
  const path = normalizeAbsolute(actual);
  const base = normalizeAbsolute(prefix);
  return base === "/" || path === base || path.startsWith(`${base}/`);
}
