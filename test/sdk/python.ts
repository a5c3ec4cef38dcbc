// The Python SDK's virtualenv for tests that run Python: made (or found current) by scripts/toolchain.sh's
// ensure_python_sdk, so these tests need nothing installed beforehand.
import { execFileSync } from "node:child_process";

export const ROOT = new URL("../../", import.meta.url).pathname;
let python: string | undefined;

export function pythonSdk(): string {
  python ??= execFileSync("bash", ["-c", 'source scripts/toolchain.sh && ensure_python_sdk "$PWD" >&2 && printf %s "$INTENTGATE_PYTHON"'], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return python;
}
