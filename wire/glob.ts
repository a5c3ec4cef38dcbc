// server.tool globs: the SDK's code (sdk/typescript/src/glob.ts), shared with token coverage.
export { anyGlobMatches, globMatches, globToRegExp } from "../sdk/typescript/src/glob.ts";
