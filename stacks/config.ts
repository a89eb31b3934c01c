import * as pulumi from "@pulumi/pulumi";
import { type StackConfig, parseStackConfig } from "../core/config";

/** Config keys read from the `remedy` namespace of `Pulumi.<stack>.yaml`. */
export const CONFIG_KEYS = ["ingress", "services", "createNamespaces", "rollback"] as const;

/**
 * Reads the `remedy:*` config of the current stack and validates it. Every key is read as a raw
 * object so that problems are reported by the schema (key path, value, fix) rather than one at a
 * time by `requireObject`.
 * @throws ConfigError before any resource is registered.
 */
export function readStackConfig(config = new pulumi.Config("remedy")): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = config.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  return parseStackConfig(raw);
}
