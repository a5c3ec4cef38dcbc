// Bundles the CLI (which carries the sidecar and the controller) into one file with esbuild.
import { build } from "esbuild";
import { chmodSync } from "node:fs";

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
