// Copies the CRDs (crds/*.yaml, the source of truth) into the chart (charts/intentgate/crds/), which Helm
// installs before the templates. `--check` changes nothing and fails when the chart's copies have drifted.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
export const SOURCE_DIR = join(ROOT, "crds");
export const CHART_CRDS_DIR = join(ROOT, "charts/intentgate/crds");

const yamlFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

/** Differences between crds/ and the chart's copies, one line each; empty when in sync. */
export function crdDrift(): string[] {
  const source = yamlFiles(SOURCE_DIR);
  const copied = yamlFiles(CHART_CRDS_DIR);
  const problems: string[] = [];
  for (const f of source) {
    if (!copied.includes(f)) problems.push(`${f}: missing from the chart`);
    else if (readFileSync(join(SOURCE_DIR, f), "utf8") !== readFileSync(join(CHART_CRDS_DIR, f), "utf8")) problems.push(`${f}: differs from crds/${f}`);
  }
  for (const f of copied) if (!source.includes(f)) problems.push(`${f}: in the chart but not in crds/`);
  return problems;
}

export function syncCrds(): void {
  for (const f of yamlFiles(CHART_CRDS_DIR)) rmSync(join(CHART_CRDS_DIR, f));
  for (const f of yamlFiles(SOURCE_DIR)) writeFileSync(join(CHART_CRDS_DIR, f), readFileSync(join(SOURCE_DIR, f)));
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const problems = crdDrift();
    if (problems.length > 0) {
      console.error(`charts/intentgate/crds is stale (run node scripts/sync-chart-crds.ts):\n  ${problems.join("\n  ")}`);
      process.exit(1);
    }
  } else {
    syncCrds();
  }
}
