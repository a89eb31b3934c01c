// @ts-check
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "bin/", "scratch/", ".stryker-tmp/", "reports/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi },
    rules: {
      // An Output in a template literal renders as a warning string, not its value.
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/no-floating-promises": "error",
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-require-imports": "off",
      // A skipped test is a silent gap: fail loudly instead.
      "no-restricted-syntax": [
        "error",
        { selector: "MemberExpression[object.name=/^(it|describe|context)$/][property.name=/^(skip|only)$/]", message: "no skipped or focused tests" },
        { selector: "CallExpression[callee.name=/^(xit|xdescribe)$/]", message: "no skipped tests" },
        { selector: "CallExpression[callee.property.name='skip'][callee.object.type='ThisExpression']", message: "no this.skip(): fail with a clear message instead" },
      ],
    },
  },
);
