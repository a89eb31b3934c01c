/**
 * The test routes' secret header values, as the release driver reads them (issue 35, 12): one
 * Secrets Manager secret per stack, a JSON object of service name to value, written by `pulumi
 * up`. Release records keep only each value's SHA-256, so reading the table (ReadOnlyAccess
 * does) no longer reaches a candidate; `secretsmanager:GetSecretValue` is not in ReadOnlyAccess
 * and the driver's role may call it on this secret alone.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** How long one read serves later checks of the same warm instance. */
const CACHE_MS = 60_000;

/**
 * A reader of the secret `secretArn`, caching one read for a minute (a pre-traffic check runs at
 * most once per service and tick). Throws on an unreadable or malformed secret, naming it.
 */
export function testRouteSecretReader(client: SecretsManagerClient, secretArn: string, now: () => number = Date.now): (service: string) => Promise<string | undefined> {
  let cached: { readonly at: number; readonly values: Readonly<Record<string, string>> } | undefined;
  return async (service) => {
    if (!cached || now() - cached.at > CACHE_MS) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
      let parsed: unknown;
      try {
        parsed = JSON.parse(out.SecretString ?? "");
      } catch {
        parsed = undefined;
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === "string")) {
        throw new Error(`secret ${secretArn} is not a JSON object of service name to test-route value; run pulumi up to rewrite it`);
      }
      cached = { at: now(), values: parsed as Record<string, string> };
    }
    return cached.values[service];
  };
}
