/** Mocha root hooks: Pulumi mocks are installed once, before any test file creates resources. */
import { installMocks, resetRecorded } from "./helpers/pulumiMocks";

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await installMocks("prod");
  },
  beforeEach(): void {
    resetRecorded();
  },
};
