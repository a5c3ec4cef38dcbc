// Effective constraints of a token: the SDK's code (sdk/typescript/src/token/effective.ts) is the one implementation.
export { foldCaveats, type ArgConstraint, type BudgetCeiling, type EffectiveConstraints } from "../../sdk/typescript/src/token/effective.ts";
