// RFC 6901 lookups: the SDK's code (sdk/typescript/src/json-pointer.ts), shared with token coverage.
export { resolvePointer } from "../sdk/typescript/src/json-pointer.ts";
