/**
 * The remedy stack program: `pulumi up` on `prod` (or `hotfix`) reads `remedy:*` config,
 * validates it, builds the shared ingress and every service, and exports what operators and
 * other stacks need. Resources are built in `program.ts` so tests and benchmarks can run it.
 */
import * as pulumi from "@pulumi/pulumi";
import { releaseTableName } from "../components/rollback/rollbackFunction";
import { readStackConfig } from "./config";
import { buildStack, stackOutputs } from "./program";
import { releaseBackend } from "./releases";

const alarmNamePrefix = `${pulumi.getProject()}-${pulumi.getStack()}`;
const outputs = stackOutputs(
  buildStack(readStackConfig(), {
    alarmNamePrefix,
    releases: releaseBackend(releaseTableName(alarmNamePrefix), new pulumi.Config("aws").get("region")),
    by: `pulumi:${pulumi.getStack()}`,
  }),
);

export const ingress = outputs.ingress;
export const services = outputs.services;
export const rollback = outputs.rollback;
