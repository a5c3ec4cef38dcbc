// Status writing for our custom resources. Conditions follow metav1.Condition: lastTransitionTime
// moves only when a condition's status changes, and each carries the generation it was computed from.
// The status subresource is written with a JSON merge patch, so the controller never overwrites a spec
// (and needs no resourceVersion): arrays such as conditions are replaced whole by what we computed.
import { isDeepStrictEqual } from "node:util";
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { CommonStatus, Condition } from "../api/types.ts";
import { apiError } from "./client.ts";

export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/** Returns conditions with `next` set: same place if its type exists, appended otherwise. Does not modify the input. */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, now: Date = new Date()): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous !== undefined && previous.status === next.status ? previous.lastTransitionTime : rfc3339(now);
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether writing `desired` would change anything (skip the API call when not: reconciles repeat). */
export function statusChanged(current: CommonStatus | undefined, desired: CommonStatus): boolean {
  if (current === undefined) return true;
  return Object.entries(desired).some(([field, value]) => !isDeepStrictEqual((current as Record<string, unknown>)[field], value));
}

/** metav1.Time: RFC 3339 in seconds. */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

export interface CustomResourceRef {
  group: string;
  version: string;
  plural: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
}

/** Merge-patches the status subresource; returns the object as stored. Throws KubeApiError (404 if gone). */
export async function patchStatus<T>(kc: KubeConfig, ref: CustomResourceRef, status: object): Promise<T> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const options = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const base = { group: ref.group, version: ref.version, plural: ref.plural, name: ref.name, body: { status } };
  try {
    const result: unknown =
      ref.namespace === undefined
        ? await api.patchClusterCustomObjectStatus(base, options)
        : await api.patchNamespacedCustomObjectStatus({ ...base, namespace: ref.namespace }, options);
    return result as T;
  } catch (error) {
    if (error instanceof ApiException) {
      const body: unknown = error.body;
      throw apiError(error.code, typeof body === "string" ? body : JSON.stringify(body));
    }
    throw error;
  }
}

