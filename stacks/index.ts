/**
 * The remedy stack program: `pulumi up` on `prod` (or `hotfix`) reads `remedy:*` config,
 * validates it, builds the stack and exports what operators and other stacks need. Pulumi calls
 * the exported function and awaits it; resources are built in `program.ts` / `main.ts` so tests
 * and benchmarks can run them.
 */
import { main } from "./main";
import { installFastStackTraces } from "./stackTraces";

// Before any resource is registered: the SDK's per-resource stack captures stay cheap.
installFastStackTraces();

export = main;
