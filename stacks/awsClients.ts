/**
 * AWS SDK settings for what the stack program does outside the Pulumi AWS provider (reading and
 * recording release state), taken from the same `aws:*` stack config the provider uses: region,
 * profile, static keys, shared config/credentials files and the `assumeRoles` chain. Without
 * this the program would read release state with whatever credentials the shell has, possibly
 * another account's, while the provider deploys with the configured ones.
 */
import { fromIni, fromNodeProviderChain, fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { TokenCredentials } from "../core/kubeconfig";

/** One role of the provider's `aws:assumeRoles` chain. */
export interface AssumeRoleSetting {
  readonly roleArn: string;
  readonly sessionName?: string;
  readonly externalId?: string;
  /** Seconds (the provider's `duration`, e.g. "1h", converted). */
  readonly durationSeconds?: number;
}

/**
 * The provider settings remedy honours: the credentials (shared with the kubeconfig's token
 * command, `core/kubeconfig.ts`), the region, and the whole `assumeRoles` chain.
 */
export interface AwsSettings extends TokenCredentials {
  readonly region?: string;
  readonly assumeRoles: readonly AssumeRoleSetting[];
}

/** A provider setting remedy cannot honour, named with the fix. */
export class AwsSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AwsSettingsError";
  }
}

/** Go-style duration ("1h", "15m", "900s", "1h30m") to seconds. */
export function durationSeconds(text: string, key: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === "") throw new AwsSettingsError(`${key}: must be a duration such as "1h", "15m" or "900s", got ${JSON.stringify(text)}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function optionalString(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new AwsSettingsError(`aws:${key}: must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(raw: Record<string, unknown>, key: string): string[] | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new AwsSettingsError(`aws:${key}: must be a list of file paths`);
  return v as string[];
}

/**
 * Reads the provider's settings from raw `aws:*` config values (objects already parsed).
 * `assumeRole` (a single role, older providers) is accepted as a one-element chain.
 * @throws AwsSettingsError naming the key and the fix.
 */
export function parseAwsSettings(raw: Record<string, unknown>): AwsSettings {
  const rolesRaw = raw.assumeRoles ?? (raw.assumeRole === undefined ? [] : [raw.assumeRole]);
  if (!Array.isArray(rolesRaw)) throw new AwsSettingsError("aws:assumeRoles: must be a list of { roleArn, sessionName?, externalId?, duration? }");
  const assumeRoles = rolesRaw.map((r: unknown, i): AssumeRoleSetting => {
    const key = `aws:assumeRoles[${i}]`;
    if (typeof r !== "object" || r === null) throw new AwsSettingsError(`${key}: must be an object { roleArn, ... }`);
    const o = r as Record<string, unknown>;
    if (typeof o.roleArn !== "string" || !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(o.roleArn)) {
      throw new AwsSettingsError(`${key}.roleArn: required: the IAM role ARN to assume (arn:aws:iam::<account>:role/<name>), got ${JSON.stringify(o.roleArn)}`);
    }
    return {
      roleArn: o.roleArn,
      ...(typeof o.sessionName === "string" ? { sessionName: o.sessionName } : {}),
      ...(typeof o.externalId === "string" ? { externalId: o.externalId } : {}),
      ...(typeof o.duration === "string" ? { durationSeconds: durationSeconds(o.duration, `${key}.duration`) } : {}),
    };
  });
  const accessKey = optionalString(raw, "accessKey");
  const secretKey = optionalString(raw, "secretKey");
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new AwsSettingsError(`aws:${accessKey === undefined ? "accessKey" : "secretKey"}: required with aws:${accessKey === undefined ? "secretKey" : "accessKey"}; set both or neither`);
  }
  const settings: AwsSettings = {
    region: optionalString(raw, "region"),
    profile: optionalString(raw, "profile"),
    accessKey,
    secretKey,
    token: optionalString(raw, "token"),
    sharedCredentialsFiles: stringList(raw, "sharedCredentialsFiles"),
    sharedConfigFiles: stringList(raw, "sharedConfigFiles"),
    assumeRoles,
  };
  return settings;
}

/** The base credentials before any role is assumed: static keys, the profile, or the default chain. */
function baseCredentials(s: AwsSettings): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  if (s.accessKey && s.secretKey) return { accessKeyId: s.accessKey, secretAccessKey: s.secretKey, ...(s.token ? { sessionToken: s.token } : {}) };
  const files = {
    ...(s.sharedCredentialsFiles?.[0] ? { filepath: s.sharedCredentialsFiles[0] } : {}),
    ...(s.sharedConfigFiles?.[0] ? { configFilepath: s.sharedConfigFiles[0] } : {}),
  };
  if (s.profile) return fromIni({ profile: s.profile, ...files });
  return fromNodeProviderChain(files);
}

/**
 * Client settings (region + credentials) equivalent to the provider's: base credentials, then
 * each role of `assumeRoles` assumed in turn with the previous one's credentials.
 */
export function sdkClientConfig(s: AwsSettings): { region?: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider } {
  let credentials = baseCredentials(s);
  for (const role of s.assumeRoles) {
    credentials = fromTemporaryCredentials({
      masterCredentials: credentials,
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: role.sessionName ?? "remedy-release-state",
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
        ...(role.durationSeconds ? { DurationSeconds: role.durationSeconds } : {}),
      },
      ...(s.region ? { clientConfig: { region: s.region } } : {}),
    });
  }
  return { ...(s.region ? { region: s.region } : {}), credentials };
}
