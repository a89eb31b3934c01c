import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { strict as assert } from "node:assert";
import { ConfigError, type ServiceInput } from "../../core/config";
import { applyEvent, type ReleaseEvent, type ReleaseState } from "../../core/releaseState";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The `config` map of a `Pulumi.<stack>.yaml` in the repository. */
export function stackYaml(stack: string): Record<string, unknown> {
  const doc = yaml.load(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
    config?: Record<string, unknown>;
  };
  return doc.config ?? {};
}

/** The `remedy:*` keys of a stack file, without the namespace, as `parseStackConfig` takes them. */
export function remedyConfig(stack: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stackYaml(stack))) {
    if (key.startsWith("remedy:")) out[key.slice("remedy:".length)] = value;
  }
  return out;
}

/**
 * A valid service in input form; override any field. Overrides may be deliberately invalid (to test
 * validation), so the result is typed as the input the component accepts, unchecked.
 */
export function serviceInput(overrides: Record<string, unknown> = {}): ServiceInput {
  return {
    name: "payments",
    port: 8080,
    healthPath: "/healthz",
    routing: { hosts: ["api.example.com"], paths: ["/payments/*"], priority: 100 },
    stable: "blue",
    slots: {
      blue: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.0" },
      green: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1" },
    },
    candidate: { weight: 10 },
    ...overrides,
  } as ServiceInput;
}

export const VPC_ID = "vpc-0a1b2c3d4e5f67890";
export const SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"];

/** A valid stack config in input form with the given services. */
export const CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

/** A valid stack config in input form with the given services (HTTPS, on the cluster `test-eks`). */
export function stackInput(services: object[], ingress: Record<string, unknown> = {}): Record<string, unknown> {
  return { kubernetes: { cluster: "test-eks" }, ingress: { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERTIFICATE_ARN, ...ingress }, services };
}

/** Runs `fn`, expects a ConfigError, returns its `path: message` lines. */
export function configProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected the configuration to be refused");
}

/** `state` after `events`, each of which must apply (a refusal or no-op fails the test, with its reason). */
export function applyAll(state: ReleaseState, ...events: ReleaseEvent[]): ReleaseState {
  for (const e of events) {
    const t = applyEvent(state, e);
    assert.equal(t.kind, "applied", t.kind === "applied" ? "" : `${e.type}: ${t.reason}`);
    state = t.state;
  }
  return state;
}

const DAY = 86_400_000;
/** A date `offset` days from today, YYYY-MM-DD. */
export const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);
export const LANE_DIGEST = "sha256:9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d1f";

/** payments' v1.9.4 for callers still on the /v1 API. */
export function lane(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: "v1.9.4",
    image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@${LANE_DIGEST}`,
    route: { pathPrefix: "/v1", stripPrefix: true },
    priority: 90,
    deprecatedAt: day(-10),
    sunsetAt: day(80),
    link: "https://docs.example.com/payments/v1-sunset",
    owner: "team-payments",
    reason: "the partner checkout (acme-pos 3.x) cannot move to v2 before its March release",
    ...overrides,
  };
}

/** A shared ingress to attach a BlueGreenService to in component tests: listener, ALB security group, VPC. */
export const INGRESS = {
  listenerArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2",
  securityGroupId: "sg-0123456789abcdef0",
  vpcId: "vpc-0a1b2c3d4e5f67890",
};
