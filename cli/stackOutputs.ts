/** A `pulumi stack output --json` file, as `remedy status --outputs` and `remedy wait --outputs` read it. */
import * as fs from "node:fs";

/** The file's JSON. @throws Error naming the file and how to write it (`when`: when to, if it matters). */
export function readStackOutputs(file: string, when = ""): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--outputs ${file}: not a JSON file (${(err as Error).message}); write it with \`pulumi stack output --json > ${file}\`${when}`);
  }
}
