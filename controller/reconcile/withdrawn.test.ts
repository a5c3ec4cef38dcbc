// Withdrawn grant tokens stay revoked while any sidecar could still accept them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_SKEW_SECONDS } from "../../wire/index.ts";
import type { CapabilityGrant } from "../api/types.ts";
import { withdrawnTokens } from "./grants.ts";

const now = 1_800_000_000;
const at = (seconds: number): string => new Date(seconds * 1000).toISOString();
const grant = (withdrawn: Array<{ tokenId: string; expiresAt: string }>): CapabilityGrant =>
  ({
    apiVersion: "intentgate.dev/v1alpha1",
    kind: "CapabilityGrant",
    metadata: { name: "g", namespace: "ns" },
    spec: { agents: { serviceAccounts: [] } },
    status: { withdrawn: withdrawn.map((w) => ({ serviceAccount: "sa", ...w })) },
  }) as unknown as CapabilityGrant;

void test("a withdrawn token is kept until its expiry plus the largest clock skew a sidecar allows, then forgotten", () => {
  const kept = withdrawnTokens(grant([
    { tokenId: "expired-just-now", expiresAt: at(now - 1) },
    { tokenId: "inside-the-skew", expiresAt: at(now - MAX_SKEW_SECONDS + 1) },
    { tokenId: "past-the-skew", expiresAt: at(now - MAX_SKEW_SECONDS) },
    { tokenId: "still-valid", expiresAt: at(now + 60) },
  ]), [], now);
  assert.deepEqual(kept.map((w) => w.tokenId), ["expired-just-now", "inside-the-skew", "still-valid"]);
});
