/** Mocha root hooks: Pulumi mocks are installed once, before any test file creates resources. */
import { installMocks, resetRecorded } from "./helpers/pulumiMocks";
import { motoBinary } from "../cli/rehearsal/moto";

/**
 * Once, before any worker starts (issue 36, 13): moto is the one prerequisite npm cannot bring
 * (it comes from PyPI), so a machine without it hears the install command up front, not from
 * every suite that needs it.
 */
export function mochaGlobalSetup(): void {
  motoBinary();
}

// The rollback Lambda runs on nodejs22.x; this machine's Node 20 makes the AWS SDK print a
// support warning on first use. It says nothing about the code under test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await installMocks("prod");
  },
  beforeEach(): void {
    resetRecorded();
  },
};
