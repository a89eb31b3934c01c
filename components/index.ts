export * as delivery from "./delivery";
export { BlueGreenService, type BlueGreenServiceArgs } from "./delivery/blueGreenService";
export { SharedIngress, type SharedIngressArgs, type IngressAttachment } from "./delivery/sharedIngress";
