// The name of a deleted grant's TokenRevocation: the same on every retry, another for a grant re-created under the
// same name, and a valid object name (at most 253 characters of a DNS subdomain) for the longest grant names.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapabilityGrant } from "../api/types.ts";
import { revocationName } from "./grant-deletion.ts";

const grant = (name: string, uid: string): CapabilityGrant => ({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name, namespace: "agents", uid }, spec: { agents: {}, caveats: [] } });
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

test("named after the grant and its uid, with a number for each further chunk of 1024 ids", () => {
  const g = grant("reader", "1f2e3d4c-0000-4000-8000-000000000000");
  assert.equal(revocationName(g, 0), "reader-1f2e3d4c");
  assert.equal(revocationName(g, 1), "reader-1f2e3d4c-2");
  assert.notEqual(revocationName(grant("reader", "99999999-0000-4000-8000-000000000000"), 0), revocationName(g, 0));
});

test("the longest grant names are cut to fit, never ending a DNS label in '.' or '-'", () => {
  for (const name of ["a".repeat(253), `${"b".repeat(237)}.${"c".repeat(15)}`, `${"d".repeat(238)}-${"e".repeat(14)}`]) {
    for (const chunk of [0, 1, 41]) {
      const n = revocationName(grant(name, "1f2e3d4c-0000-4000-8000-000000000000"), chunk);
      assert.ok(n.length <= 253, `${n.length} characters`);
      assert.match(n, SUBDOMAIN);
      assert.match(n, /-1f2e3d4c(-\d+)?$/);
    }
  }
});
