import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigError, type StackConfig, checkSecretTestRoutes, parseStackConfig, unknownConfigKeys } from "../core/config";
import { type AwsSettings, AwsSettingsError, parseAwsSettings } from "./awsClients";

export { CONFIG_KEYS };

/** Provider keys of the `aws` namespace that decide which account and credentials are used. */
export const AWS_CONFIG_KEYS = ["region", "profile", "accessKey", "secretKey", "token", "assumeRoles", "assumeRole", "sharedCredentialsFiles", "sharedConfigFiles"] as const;

/**
 * The AWS provider's settings from `aws:*` stack config, for the SDK calls the program makes
 * itself (release state), so they reach the same account with the same credentials.
 */
export function readAwsSettings(): AwsSettings {
  const raw: Record<string, unknown> = {};
  for (const key of AWS_CONFIG_KEYS) {
    // The runtime's raw getter: secrets (aws:secretKey, aws:token) are read without Pulumi's
    // "use getSecret" warning, and never leave this process.
    const value = pulumi.runtime.getConfig(`aws:${key}`);
    if (value === undefined) continue;
    const structured = key === "assumeRoles" || key === "assumeRole" || key === "sharedCredentialsFiles" || key === "sharedConfigFiles";
    if (!structured) {
      raw[key] = value;
      continue;
    }
    try {
      raw[key] = JSON.parse(value) as unknown;
    } catch {
      throw new AwsSettingsError(`aws:${key}: must be ${key === "assumeRole" ? "an object" : "a list"} in stack config (YAML), got ${JSON.stringify(value)}`);
    }
  }
  return parseAwsSettings(raw);
}

/**
 * Reads every `remedy:*` key as a raw object, so that problems are reported by the schema
 * (key path, value, fix) rather than one at a time by `requireObject`. A stack with
 * `remedy:hotfix` is a hotfix stack; any other is a prod-like stack.
 */
/** The running stack's full name, `org/project/stack`: what a stack reference to it names. */
export const thisStackName = (): string => `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;

export function readRawConfig(config = new pulumi.Config(CONFIG_NAMESPACE)): Record<string, unknown> {
  const unknown = unknownConfigKeys(Object.keys(pulumi.runtime.allConfig()), config.name);
  if (unknown.length > 0) throw new ConfigError(unknown, "remedy stack configuration");
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = key === "hotfixStack" ? config.get(key) : config.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  return raw;
}

/**
 * Reads and validates a prod-like stack's config.
 * @throws ConfigError before any resource is registered.
 */
export function readStackConfig(config = new pulumi.Config("remedy")): StackConfig {
  return parseStackConfig(readRawConfig(config));
}

/** Whether a `<namespace>:<key>` config value is a Pulumi secret (set with `--secret`, at any path inside it). */
export function isSecretConfig(key: string): boolean {
  // The SDK's own check (what Config.get consults to warn about secrets); @internal in the
  // pinned @pulumi/pulumi, so it is looked up rather than imported.
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  if (typeof runtime.isConfigSecret !== "function") throw new Error("internal: this @pulumi/pulumi has no runtime.isConfigSecret; remedy cannot tell whether remedy:services holds secrets");
  return runtime.isConfigSecret(key);
}

/** {@link checkSecretTestRoutes} against the running program's secret config. @throws ConfigError */
export function requireSecretTestRoutes(config: StackConfig, isSecret: (key: string) => boolean = isSecretConfig): void {
  checkSecretTestRoutes(config, isSecret);
}
