export * as delivery from "./delivery";
export { BlueGreenService, type BlueGreenServiceArgs } from "./delivery/blueGreenService";
export { SharedIngress, type SharedIngressArgs, type IngressAttachment } from "./delivery/sharedIngress";
export * as rollback from "./rollback";
export { AutoRollback, type AutoRollbackArgs } from "./rollback/autoRollback";
export { RollbackFunction, type RollbackFunctionArgs } from "./rollback/rollbackFunction";
export { clusterProvider, type ClusterProviderArgs } from "./kubernetes/clusterProvider";
