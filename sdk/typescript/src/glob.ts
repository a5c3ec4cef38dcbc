// Globs over `server.tool` names: `*` matches any run of characters (dots included), every other
// character matches itself, compared by Unicode code point without normalisation.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (re === undefined) {
    const body = glob
      .split("*")
      .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, "\\$&"))
      .join(".*");
    re = new RegExp(`^${body}$`, "su");
    if (cache.size < 10_000) cache.set(glob, re);
  }
  return re;
}

export function globMatches(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}

export function anyGlobMatches(globs: readonly string[], name: string): boolean {
  for (const glob of globs) if (globMatches(glob, name)) return true;
  return false;
}
