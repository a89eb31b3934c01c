import { strict as assert } from "node:assert";
import { validateK8sObject } from "./k8sSchema";

/** The schema check is only worth something if it rejects broken objects. */
describe("test helper: Kubernetes schema validation", () => {
  const tgb = {
    apiVersion: "elbv2.k8s.aws/v1beta1",
    kind: "TargetGroupBinding",
    metadata: { name: "payments-blue", namespace: "payments" },
    spec: {
      serviceRef: { name: "payments-blue", port: 8080 },
      targetGroupARN: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/0123456789abcdef",
      targetType: "ip",
    },
  };
  const resource = (type: string, inputs: unknown) => ({ type, name: "x", inputs: inputs as Record<string, unknown>, id: "x", state: {} });

  it("accepts a well-formed TargetGroupBinding and rejects a misspelt field", () => {
    validateK8sObject(resource("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding", tgb));
    const misspelt = { ...tgb, spec: { ...tgb.spec, targetGroupArn: tgb.spec.targetGroupARN, targetGroupARN: undefined } };
    assert.throws(
      () => validateK8sObject(resource("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding", JSON.parse(JSON.stringify(misspelt)))),
      /must have required property 'targetGroupARN'/,
    );
  });

  it("rejects a Deployment whose replicas is not an integer or whose container has no name", () => {
    const dep = (replicas: unknown, container: Record<string, unknown>) =>
      resource("kubernetes:apps/v1:Deployment", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "a" },
        spec: { replicas, selector: { matchLabels: { app: "a" } }, template: { spec: { containers: [container] } } },
      });
    validateK8sObject(dep(2, { name: "a", image: "r/a:1" }));
    assert.throws(() => validateK8sObject(dep("two", { name: "a", image: "r/a:1" })), /replicas/);
    assert.throws(() => validateK8sObject(dep(2, { image: "r/a:1" })), /name/);
  });

  it("refuses an object type it has no schema for, rather than passing it", () => {
    assert.throws(() => validateK8sObject(resource("kubernetes:batch/v1:CronJob", {})), /no schema known for kubernetes:batch\/v1:CronJob/);
  });
});
