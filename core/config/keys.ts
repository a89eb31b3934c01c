/**
 * The `remedy:*` keys a stack file may set. Pulumi hands a program every key of its namespace
 * without saying which it expected, so a misspelled optional key (`remedy:rolback`) would drop
 * its settings without a word: both `pulumi preview` and `remedy validate` refuse it instead.
 */
import * as defaults from "../defaults";
import { ConfigError, type ConfigIssue, editDistance } from "./errors";
import type { StackConfig } from "./stack";

/** Config keys read from the `remedy` namespace of `Pulumi.<stack>.yaml`. */
export const CONFIG_KEYS = ["kubernetes", "ingress", "services", "createNamespaces", "quotas", "rollback", "hotfixStack", "hotfix", "database", "notifications", "promotion"] as const;

/** The config namespace remedy reads (the Pulumi project name in Pulumi.yaml). */
export const CONFIG_NAMESPACE = "remedy";

/**
 * Problems with the `<namespace>:*` keys among `keys` (full `namespace:key` names, as Pulumi
 * lists them): each unknown one, with the known key it is closest to.
 */
export function unknownConfigKeys(keys: readonly string[], namespace = CONFIG_NAMESPACE): ConfigIssue[] {
  const known: readonly string[] = CONFIG_KEYS;
  return keys
    .filter((k) => k.startsWith(`${namespace}:`))
    .map((k) => k.slice(namespace.length + 1))
    .filter((k) => !known.includes(k))
    .sort()
    .map((k) => {
      const best = known.map((c) => ({ c, d: editDistance(k.toLowerCase(), c.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
      const hint = best.d <= 3 ? `did you mean ${namespace}:${best.c}?` : `known keys: ${known.map((c) => `${namespace}:${c}`).join(", ")}`;
      return { path: `${namespace}:${k}`, message: `unknown key, so its settings would be ignored; ${hint}` };
    });
}

/**
 * A test route's header value reaches a candidate at 0%: it must come from secret config (then
 * `remedy:services` is a secret key and the value is encrypted in the stack file), never plain.
 * @throws ConfigError naming `services[i].testRoute.value` and the command that sets it as a secret.
 */
export function checkSecretTestRoutes(config: StackConfig, isSecret: (key: string) => boolean): void {
  const plain = config.services
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.testRoute !== undefined && !(s.testRoute.sourceCidrs && s.testRoute.value === defaults.DEFAULT_TEST_ROUTE_VALUE));
  if (plain.length === 0 || isSecret("remedy:services")) return;
  throw new ConfigError(
    plain.map(({ i }) => ({
      path: `services[${i}].testRoute.value`,
      message: `is in plain text in the stack's config; set it as a secret: pulumi config set --secret --path 'remedy:services[${i}].testRoute.value' "$(openssl rand -hex 16)"`,
    })),
    "remedy stack configuration",
  );
}
