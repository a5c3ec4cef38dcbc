// Renders the chart (`helm template`) for each values case into test/chart/golden/<case>.yaml, so a review sees
// every change to what the chart installs. `--check` changes nothing and fails when a committed file differs.
// The tests reuse renderChart() and helm() from here. helm comes from PATH or scripts/toolchain.sh's cache.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
export const CHART_DIR = join(ROOT, "charts/intentgate");
export const GOLDEN_DIR = join(ROOT, "test/chart/golden");
export const RELEASE = { name: "intentgate", namespace: "intentgate-system" } as const;
// The Kubernetes version the tests run (test/support/kube.ts), so Capabilities.KubeVersion is the same everywhere.
export const KUBE_VERSION = "1.36.3";

/** Values cases: the chart's defaults, and a non-default install that turns on every optional piece. */
export const CASES: Record<string, string[]> = {
  default: [],
  custom: [join(ROOT, "test/chart/values-custom.yaml")],
};

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helmBinary(): string {
  const cached = join(homedir(), ".cache/intentgate/bin/helm");
  return existsSync(cached) ? cached : "helm";
}

export function helm(args: string[]): HelmResult {
  const r = spawnSync(helmBinary(), args, { encoding: "utf8", cwd: ROOT });
  if (r.error !== undefined) throw new Error(`helm could not run (scripts/toolchain.sh ensure_helm installs it): ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of a release with these values files and extra arguments (e.g. --set); throws when it fails. */
export function renderChart(valuesFiles: readonly string[], extra: readonly string[] = [], release: { name: string; namespace: string } = RELEASE): string {
  const args = ["template", release.name, CHART_DIR, "--namespace", release.namespace, "--kube-version", KUBE_VERSION];
  for (const file of valuesFiles) args.push("--values", file);
  const r = helm([...args, ...extra]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export const goldenPath = (name: string): string => join(GOLDEN_DIR, `${name}.yaml`);

/** Cases whose committed golden file differs from a fresh rendering. */
export function staleGoldens(): string[] {
  return Object.entries(CASES)
    .filter(([name, files]) => !existsSync(goldenPath(name)) || readFileSync(goldenPath(name), "utf8") !== renderChart(files))
    .map(([name]) => name);
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const stale = staleGoldens();
    if (stale.length > 0) {
      console.error(`test/chart/golden is stale for ${stale.join(", ")}: run node scripts/chart-golden.ts and review the diff`);
      process.exit(1);
    }
  } else {
    for (const [name, files] of Object.entries(CASES)) writeFileSync(goldenPath(name), renderChart(files));
  }
}
