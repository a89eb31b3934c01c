/**
 * `remedy status --outputs <file>` (issue 35, 18): does each of the stack's functions run the
 * code the stack's last `pulumi up` deployed? The file is `pulumi stack output --json`; its
 * `lambdaCode` names each function with Lambda's `CodeSha256` as that update saw it, and Lambda
 * reports the current one (`GetFunctionConfiguration`). Code changed outside Pulumi (`aws lambda
 * update-function-code`, a console edit) shows as a difference; so does an `up` since the file
 * was written, so take the file right before.
 */
import { readStackOutputs } from "../stackOutputs";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";

export interface CodeCheck {
  readonly name: string;
  readonly functionName: string;
  readonly expected: string;
  /** What Lambda runs now; undefined when it could not be read (`error` says why). */
  readonly deployed?: string;
  readonly matches: boolean;
  readonly error?: string;
}

interface DeployedCode {
  readonly functionName: string;
  readonly codeSha256: string;
}

/** The `lambdaCode` of a `pulumi stack output --json` file. @throws Error naming the file and the fix. */
export function readLambdaCode(file: string): Record<string, DeployedCode> {
  const outputs = readStackOutputs(file);
  const code = (outputs as { lambdaCode?: unknown } | null)?.lambdaCode;
  const valid = (v: unknown): v is DeployedCode => typeof v === "object" && v !== null && typeof (v as DeployedCode).functionName === "string" && typeof (v as DeployedCode).codeSha256 === "string";
  if (typeof code !== "object" || code === null || Object.keys(code).length === 0 || !Object.values(code).every(valid)) {
    throw new Error(`--outputs ${file}: no lambdaCode output (each function's name and codeSha256); run \`pulumi up\` with this version of remedy, then \`pulumi stack output --json > ${file}\``);
  }
  return code as Record<string, DeployedCode>;
}

/** Each function's code as Lambda reports it now, against `expected`. */
export async function checkDeployedCode(expected: Readonly<Record<string, DeployedCode>>, lambda: LambdaClient = new LambdaClient({})): Promise<CodeCheck[]> {
  return Promise.all(
    Object.entries(expected)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(async ([name, e]): Promise<CodeCheck> => {
        try {
          const deployed = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: e.functionName }))).CodeSha256;
          return { name, functionName: e.functionName, expected: e.codeSha256, ...(deployed ? { deployed } : {}), matches: deployed === e.codeSha256 };
        } catch (err) {
          return { name, functionName: e.functionName, expected: e.codeSha256, matches: false, error: `${(err as Error).name}: ${(err as Error).message}` };
        }
      }),
  );
}

/** One line per function, for the terminal. */
export function formatCodeCheck(rows: readonly CodeCheck[]): string {
  return rows
    .map((r) =>
      r.matches
        ? `code ${r.name} (${r.functionName}): as deployed by pulumi up (sha256 ${r.expected})`
        : r.error
          ? `code ${r.name} (${r.functionName}): could not be read (${r.error}); needs lambda:GetFunctionConfiguration`
          : `code ${r.name} (${r.functionName}): DIFFERS from what pulumi up deployed (runs ${r.deployed ?? "?"}, deployed ${r.expected}): changed outside Pulumi? Find the UpdateFunctionCode in CloudTrail, then pulumi up`,
    )
    .join("\n");
}
