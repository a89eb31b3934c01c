/** `npm run bench`: every benchmark, each printing ratios against a baseline measured in the same run. */
import { run as checkApi } from "./check-api";
import { run as detection } from "./detection";
import { run as cli } from "./cli";
import { run as migrate } from "./migrate";
import { run as programScale } from "./program-scale";
import { run as releaseDriver } from "./release-driver";
import { run as rollbackLatency } from "./rollback-latency";

async function main(): Promise<void> {
  const only = process.argv[2];
  const benches: Array<[string, () => boolean | Promise<boolean>]> = [
    ["cli", cli],
    ["program-scale", programScale],
    ["rollback-latency", rollbackLatency],
    ["check-api", checkApi],
    ["migrate", migrate],
    ["release-driver", releaseDriver],
    ["detection", detection],
  ];
  const results: Array<[string, boolean]> = [];
  for (const [name, run] of benches) {
    if (only && only !== name) continue;
    results.push([name, await run()]);
  }
  const failed = results.filter(([, ok]) => !ok).map(([name]) => name);
  if (failed.length > 0) {
    console.error(`bench goals missed: ${failed.join(", ")}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
