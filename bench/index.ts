/** `npm run bench`: every benchmark, each printing ratios against a baseline measured in the same run. */
import { run as programScale } from "./program-scale";

const results: Array<[string, boolean]> = [["program-scale", programScale()]];
const failed = results.filter(([, ok]) => !ok).map(([name]) => name);
if (failed.length > 0) {
  console.error(`bench goals missed: ${failed.join(", ")}`);
  process.exit(1);
}
