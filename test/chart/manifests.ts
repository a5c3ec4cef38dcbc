// What the chart tests share: rendered manifests as objects, and the lookups they make on them.
import { parseAllDocuments } from "yaml";
import { CASES, renderChart } from "../../scripts/chart-golden.ts";

// Manifests are open-ended JSON; the tests read whichever fields they check.
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [field: string]: any };

export function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The chart rendered for a values case of scripts/chart-golden.ts, with extra helm arguments. */
export function renderCase(name: keyof typeof CASES & string, extra: readonly string[] = []): Manifest[] {
  return parseManifests(renderChart(CASES[name] ?? [], extra));
}

export function find(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found === undefined) throw new Error(`no ${kind}${name === undefined ? "" : ` ${name}`} rendered`);
  return found;
}
