// RFC 8785 canonical JSON. The one implementation is the SDK's (sdk/typescript/src/jcs.ts), shared with
// agent builders; the gateway only adds Buffer output.
import { canonicalize } from "../sdk/typescript/src/jcs.ts";

export { canonicalize, CanonicalizationError } from "../sdk/typescript/src/jcs.ts";

/** UTF-8 bytes of the canonical form. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), "utf8");
}
