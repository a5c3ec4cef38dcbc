// The token string format. The one implementation is the SDK's (sdk/typescript/src/token/codec.ts);
// here its byte arrays become Buffers (views, not copies) for the gateway's node:crypto code.
import { decodeToken as decode, encodeSegment as encode, type DecodedToken } from "../../sdk/typescript/src/token/codec.ts";
import type { Caveat } from "./caveats.ts";
import type { TokenHeader } from "../../sdk/typescript/src/token/codec.ts";

export { encodeToken, MAX_CAVEATS, MAX_TOKEN_LENGTH, TAG_BYTES, TOKEN_PREFIX, TOKEN_VERSION, type DecodeErrorCode, type TokenHeader } from "../../sdk/typescript/src/token/codec.ts";

export type { DecodedToken };
export type DecodeResult = { ok: true; token: DecodedToken<Buffer> } | { ok: false; code: "malformed" | "unsupported_version"; message: string };

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Parses a token string without any key: structure, canonical form and header fields only. */
export function decodeToken(text: string): DecodeResult {
  const result = decode(text);
  if (!result.ok) return result;
  const { header, caveats, segments, tag } = result.token;
  return { ok: true, token: { header, caveats, segments: segments.map(asBuffer), tag: asBuffer(tag) } };
}

export function encodeSegment(value: TokenHeader | Caveat): Buffer {
  return asBuffer(encode(value));
}
