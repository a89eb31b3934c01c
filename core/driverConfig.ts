/**
 * What the release driver Lambda is told: a few fixed-size settings in its environment, and the
 * list of services it drives (with their namespaces) in a file of its code package. Lambda allows
 * 4 KB of environment in all; a service list there passed it at about 60 services, while the code
 * package (50 MB zipped) holds thousands.
 */

import * as defaults from "./defaults";

/** The file in the driver's code package, next to `index.js`. */
export const DRIVER_CONFIG_FILE = "driver.json";

/** The contents of {@link DRIVER_CONFIG_FILE}. */
export interface DriverFileConfig {
  /** The progressive services, in tick order. */
  readonly services: readonly string[];
  /**
   * Services whose releases take weights from config (`strategy: manual`): never stepped, only
   * watched (target health every few seconds while a candidate takes traffic). Default none.
   */
  readonly watch?: readonly string[];
  /** Services whose legacy lanes it keeps (brownouts, daily evidence; issue 37). Default none. */
  readonly lanes?: readonly string[];
  /** Service -> namespace, when the driver may scale promoted-away slots to 0. */
  readonly namespaces?: Readonly<Record<string, string>>;
}

/** The driver's environment variables (all fixed-size: nothing here grows with the service count). */
export function driverEnvironment<T>(a: {
  readonly tableName: T;
  readonly alarmNamePrefix: string;
  readonly kube?: { readonly endpoint: T; readonly certificateAuthorityData: T; readonly cluster: string };
  /** Lifecycle notifications: the topic, the stack's name, and whether every step is told. */
  readonly notify?: { readonly topicArn: T; readonly stack: string; readonly steps: boolean };
  /** The stack's test-route secret (HTTP pre-traffic checks read their header value there). */
  readonly testRouteSecretArn?: T;
}): Record<string, T | string> {
  return {
    RELEASE_TABLE: a.tableName,
    ALARM_PREFIX: a.alarmNamePrefix,
    ...(a.notify ? { NOTIFY_TOPIC_ARN: a.notify.topicArn, STACK_NAME: a.notify.stack, NOTIFY_STEPS: String(a.notify.steps) } : {}),
    POWERTOOLS_SERVICE_NAME: "remedy-release-driver",
    ...(a.testRouteSecretArn !== undefined ? { TEST_ROUTE_SECRET_ARN: a.testRouteSecretArn } : {}),
    ...(a.kube ? { KUBE_ENDPOINT: a.kube.endpoint, KUBE_CA: a.kube.certificateAuthorityData, KUBE_CLUSTER: a.kube.cluster } : {}),
  };
}

/**
 * What the release driver does with a service: steps a progressive one (`drive`), watches the
 * target health of one with two slots and manual weights while its candidate takes traffic
 * (`watch`: never stepped), or nothing (a single slot has no candidate).
 */
export function driverRole(s: { readonly strategy?: unknown; readonly slots: { readonly blue?: unknown; readonly green?: unknown } }): "drive" | "watch" | undefined {
  if (s.strategy !== undefined) return "drive";
  return s.slots.blue !== undefined && s.slots.green !== undefined ? "watch" : undefined;
}

/**
 * The test routes' header values of the services with an HTTP pre-traffic check, by service, for
 * the release driver's secret (issue 35, 12); undefined when none has one.
 */
export function testRouteValues(services: readonly { readonly name: string; readonly preTraffic?: { readonly check: { readonly kind: string } }; readonly testRoute?: { readonly value: string } }[]): Record<string, string> | undefined {
  const http = services.filter((s) => s.preTraffic?.check.kind === "http");
  return http.length === 0 ? undefined : Object.fromEntries(http.map((s) => [s.name, s.testRoute?.value ?? defaults.DEFAULT_TEST_ROUTE_VALUE]));
}
