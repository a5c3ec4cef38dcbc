// Strict unpadded base64url (RFC 4648 §5). Buffer's own decoder skips bad characters silently,
// which would let two strings name the same bytes; this one accepts exactly one spelling.

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** Decodes, or returns undefined when the text is not the one canonical spelling of some bytes. */
export function decodeBase64url(text: string): Buffer | undefined {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, "base64url");
  // Non-zero trailing bits would decode to the same bytes as another spelling.
  if (bytes.toString("base64url") !== text) return undefined;
  return bytes;
}
