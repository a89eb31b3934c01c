/** AWS errors an operator can fix, in one line that names what to set or run. */
import { ResourceNotFoundException } from "@aws-sdk/client-dynamodb";

export function describeAwsError(err: unknown, table: string, stack: string): string {
  const e = err as { name?: string; message?: string };
  if (err instanceof ResourceNotFoundException) return `unknown stack ${stack}: no release table ${table} (run \`pulumi up\` on ${stack}, or pass --stack)`;
  if (e.name === "CredentialsProviderError") return `no AWS credentials: ${e.message ?? ""} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`;
  if (/Region is missing/i.test(e.message ?? "")) return "no AWS region: set AWS_REGION, or AWS_PROFILE to a profile with a region in ~/.aws/config";
  if (/Throttl/.test(e.name ?? "")) return `AWS throttled the request after retries (${e.name}); try again`;
  // A kept rehearsal stopped while its exports stay set: say so, not a bare ECONNREFUSED (issue 36, 10).
  const code = (e as { code?: string }).code ?? (err as { cause?: { code?: string } })?.cause?.code;
  if (code === "ECONNREFUSED" && process.env.AWS_ENDPOINT_URL) {
    return `nothing answers at AWS_ENDPOINT_URL=${process.env.AWS_ENDPOINT_URL} (a stopped \`remedy rehearse --keep\`?): start it again, or leave it with \`unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION\` to reach AWS`;
  }
  return `${e.name ?? "Error"}: ${e.message ?? String(err)}`;
}
