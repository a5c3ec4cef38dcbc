// A strict JSON parser for request bodies: RFC 8259 exactly, plus what JSON.parse lets through and a
// gateway must not: duplicate keys (two parsers could read two different calls), unbounded nesting,
// and invalid UTF-8. It records where each top-level array element starts and ends, so a batch can be
// forwarded element by element from the original bytes.

export class JsonSyntaxError extends Error {
  readonly code: "invalid_json" | "duplicate_key" | "too_deep" | "invalid_utf8";
  constructor(code: JsonSyntaxError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export interface ParsedJson {
  value: unknown;
  text: string;
  /** For a top-level array: [start, end) of each element in `text`. */
  elements?: Array<[number, number]>;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- control characters are exactly what a JSON string may not hold raw
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

export function parseStrictJson(bytes: Uint8Array, maxDepth: number): ParsedJson {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new JsonSyntaxError("invalid_utf8", "body is not valid UTF-8");
  }
  return parseStrictJsonText(text, maxDepth);
}

export function parseStrictJsonText(text: string, maxDepth: number): ParsedJson {
  let i = 0;
  const fail = (message: string): never => {
    throw new JsonSyntaxError("invalid_json", `${message} at offset ${i}`);
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const string = (): string => {
    i++; // opening quote
    PLAIN_STRING.lastIndex = i;
    PLAIN_STRING.test(text);
    let end = PLAIN_STRING.lastIndex;
    if (text.charCodeAt(end) === 0x22) {
      const s = text.slice(i, end);
      i = end + 1;
      return s;
    }
    // Escapes or control characters: find the closing quote, then let JSON.parse decode the escapes.
    const start = i - 1;
    while (end < text.length) {
      const c = text.charCodeAt(end);
      if (c === 0x22) break;
      if (c < 0x20) {
        i = end;
        fail("control character in string");
      }
      end += c === 0x5c ? 2 : 1;
    }
    if (end >= text.length) {
      i = end;
      fail("unterminated string");
    }
    i = end + 1;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("invalid string escape");
    }
  };
  const value = (depth: number): unknown => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      if (depth >= maxDepth) throw new JsonSyntaxError("too_deep", `JSON nests deeper than ${maxDepth} levels`);
      return c === 0x7b ? object(depth + 1) : array(depth + 1, undefined);
    }
    if (c === 0x22) return string();
    if (text.startsWith("true", i)) return (i += 4), true;
    if (text.startsWith("false", i)) return (i += 5), false;
    if (text.startsWith("null", i)) return (i += 4), null;
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) return fail("unexpected character");
    i = NUMBER.lastIndex;
    return Number(match[0]);
  };
  const object = (depth: number): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    ws();
    if (text.charCodeAt(i) === 0x7d) return i++, out;
    for (;;) {
      ws();
      if (text.charCodeAt(i) !== 0x22) fail("expected a string key");
      const key = string();
      if (Object.hasOwn(out, key)) throw new JsonSyntaxError("duplicate_key", `duplicate key ${JSON.stringify(key)}`);
      ws();
      if (text.charCodeAt(i) !== 0x3a) fail("expected ':'");
      i++;
      // defineProperty keeps "__proto__" an ordinary own key, as JSON.parse does.
      Object.defineProperty(out, key, { value: value(depth), enumerable: true, writable: true, configurable: true });
      ws();
      const c = text.charCodeAt(i++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) {
        i--;
        fail("expected ',' or '}'");
      }
    }
  };
  const array = (depth: number, elements: Array<[number, number]> | undefined): unknown[] => {
    i++;
    const out: unknown[] = [];
    ws();
    if (text.charCodeAt(i) === 0x5d) return i++, out;
    for (;;) {
      ws();
      const start = i;
      out.push(value(depth));
      elements?.push([start, i]);
      ws();
      const c = text.charCodeAt(i++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        i--;
        fail("expected ',' or ']'");
      }
    }
  };

  if (text.charCodeAt(0) === 0xfeff) fail("byte order mark");
  ws();
  let result: ParsedJson;
  if (text.charCodeAt(i) === 0x5b) {
    const elements: Array<[number, number]> = [];
    if (maxDepth < 1) throw new JsonSyntaxError("too_deep", `JSON nests deeper than ${maxDepth} levels`);
    result = { value: array(1, elements), text, elements };
  } else {
    result = { value: value(0), text };
  }
  ws();
  if (i !== text.length) fail("trailing characters");
  return result;
}
