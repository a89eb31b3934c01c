/**
 * English messages for zod's tree-shakable "mini" build, which the code the Lambdas bundle uses
 * (`import * as z from "zod/mini"` next to `import "./zodMini"`): the full `zod` costs the
 * rollback Lambda ~440 KiB and ~25 ms of its cold start (bench/rollback-latency), the mini build
 * only what a schema uses. Same parser underneath (`zod/v4/core`), so these schemas and
 * core/config's report problems alike. The mini build ships no messages until a locale is
 * configured; English is what the full build configures. Import it for this side effect only:
 * re-exporting the `z` namespace from here would keep every export in the bundle.
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());
