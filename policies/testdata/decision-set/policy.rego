# Test fixture, not a policy to deploy: `decision` is a multi-value rule, so it evaluates to a
# set of several decisions, which the contract refuses. See sidecar/policy/engine.test.ts.
package intentgate

decision contains {"decision": "allow", "reason": "one"}

decision contains {"decision": "block", "reason": "two"}
