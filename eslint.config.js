// Lint rules that encode security lessons sit beside the usual type-aware checks.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "sdk/typescript/dist/", "**/*.js", "policies/**/build/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's test() and describe() return promises that the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] }] },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "Use node:crypto randomBytes/randomUUID: identifiers must be unpredictable." },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.property.name='equals'][callee.object.name=/(tag|mac|sig|secret|key|hash)/i]",
          message: "Compare secrets with timingSafeEqual, never Buffer#equals.",
        },
        { selector: "ExportAllDeclaration", message: "Use explicit named exports." },
      ],
    },
  },
  {
    // Tests read JSON answers of many shapes; typing each one would only restate the assertions.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
