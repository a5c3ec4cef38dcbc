// Caveat types and their validation: the SDK's code (sdk/typescript/src/token/caveats.ts) is the one implementation.
export { ARG_OPS, caveatProblem, type ArgOp, type Caveat, type CaveatType } from "../../sdk/typescript/src/token/caveats.ts";
