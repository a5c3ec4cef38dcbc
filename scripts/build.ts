// Bundles the CLI (which carries the sidecar and the controller) into one file with esbuild.
import { build } from "esbuild";
import { chmodSync, copyFileSync } from "node:fs";

const outfile = "dist/intentgate.mjs";
await build({
  entryPoints: ["cli/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  minify: false,
  sourcemap: "linked",
  legalComments: "none",
  banner: { js: "import { createRequire as __igRequire } from 'node:module'; const require = __igRequire(import.meta.url);" },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
// PGlite (the embedded audit database) loads these beside the module that imports it.
for (const asset of ["pglite.wasm", "pglite.data", "initdb.wasm"]) {
  copyFileSync(`node_modules/@electric-sql/pglite/dist/${asset}`, `dist/${asset}`);
}
