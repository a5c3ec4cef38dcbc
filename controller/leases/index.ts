// Budget leases: the controller's side. See docs/kubernetes/budgets.md.
export { keyFor, leaseBudgetOf, type BudgetLookup, type LeaseBudget } from "./budget.ts";
export { createLeaseHandler, type Identity, type LeaseHttpDeps } from "./http.ts";
export { tokenCeilingBudget, TOKEN_BUDGET, type TenantKeys } from "./token-ceiling.ts";
export { LEASE_MIGRATIONS, migrateLeases } from "./schema.ts";
export { LeaseService, type GrantRequest, type GrantResult, type Lease, type LeaseServiceOptions, type ReturnResult, type Usage } from "./service.ts";
export { sizeSlice, type Sized } from "./sizing.ts";
