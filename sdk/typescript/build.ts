// Builds the SDK: ESM and CJS bundles with esbuild (one file each, no dependencies) and type declarations
// with tsc, into dist/. Run with Node >= 22.19 from the repository (esbuild and typescript come from there).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { build, type BuildOptions } from "esbuild";

const HERE = new URL(".", import.meta.url).pathname;
const DIST = `${HERE}dist`;

export async function buildSdk(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  const common: BuildOptions = { entryPoints: [`${HERE}src/index.ts`], bundle: true, platform: "neutral", target: "es2022", logLevel: "warning" };
  await build({ ...common, format: "esm", outfile: `${DIST}/esm/index.js` });
  await build({ ...common, format: "cjs", outfile: `${DIST}/cjs/index.cjs` });
  // The ESM folder is read as ESM whatever the nearest package.json says.
  writeFileSync(`${DIST}/esm/package.json`, '{ "type": "module" }\n');
  execFileSync(process.execPath, [new URL("../../node_modules/typescript/bin/tsc", import.meta.url).pathname, "-p", `${HERE}tsconfig.build.json`], { stdio: "inherit" });
  // Declarations name the .js files a consumer's resolver expects, not the sources' .ts.
  for (const entry of readdirSync(`${DIST}/types`, { recursive: true, encoding: "utf8" })) {
    if (!entry.endsWith(".d.ts")) continue;
    const path = `${DIST}/types/${entry}`;
    writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"'));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await buildSdk();
