export * from "./blueGreenService";
export * from "./sharedIngress";
