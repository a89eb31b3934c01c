/**
 * Stack configuration: what a user writes under `remedy:*` in `Pulumi.<stack>.yaml`, validated
 * before any resource is registered. One file per section (schema, derived types, rules); errors.ts
 * reports every problem with its key path, the value found and the fix, e.g.
 * `services[2].candidate.weight: must be an integer 0..100, got 140`.
 */
export { ConfigError, type ConfigIssue, formatPath } from "./errors";
export { DEFAULT_INGRESS_GROUP, MAX_INGRESS_GROUP_CHARS, compareQuantity } from "./fields";
export { type AlarmWindowSpec, type AlarmsSpec, type ApiSpec, type CustomAlarmSpec, type CustomMetricSpec, type RelativeAlarmsSpec, type EnvValue, type HotfixReleaseSpec, type ResourceSpec, type RoutingSpec, type ServiceInput, type ServiceSpec, type SlotSpec } from "./serviceSchema";
export { parseServiceSpec } from "./service";
export { ALB_ONLY_INGRESS_KEYS, type IngressSpec } from "./ingress";
export { type DatabaseSpec, type KubernetesSpec, type QuotaOverrides, type RollbackSpec, type StackConfig, parseStackConfig } from "./stack";
export { type HotfixSeed, type HotfixStackConfig, MAX_HOTFIX_DAYS, checkHotfixReleases, hotfixHosts, hotfixSeed, hotfixStackConfig, parseHotfixStackConfig } from "./hotfix";
export { CONFIG_KEYS, CONFIG_NAMESPACE, checkSecretTestRoutes, unknownConfigKeys } from "./keys";
export { CHATBOT_REGIONS, type NotificationsSpec, chatbotRegion } from "./notifications";
