/** moto_server start/stop for tests; shared with `remedy rehearse`. */
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { motoEnv, startMoto, type MotoServer } from "../../cli/rehearsal/moto";

export { freePort, motoEnv, startMoto, type MotoServer } from "../../cli/rehearsal/moto";

/**
 * moto_server for one suite: started before it, with the SDK's environment pointed at it (no
 * session token), wiped before each test, stopped and the environment restored after it. Call
 * it first in the suite, so its `beforeEach` runs before the suite's own. Read `moto` inside
 * hooks and tests.
 */
export function useMoto(): { readonly moto: MotoServer } {
  const suite = {} as { moto: MotoServer };
  const saved = { ...process.env };
  before(async () => {
    suite.moto = await startMoto();
    Object.assign(process.env, motoEnv(suite.moto.endpoint));
    delete process.env.AWS_SESSION_TOKEN;
  });
  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await suite.moto?.stop();
  });
  beforeEach(() => suite.moto.reset());
  return suite;
}

/** Release tables as a stack creates them (`pk`, `sk`), on the emulator the environment points at. */
export async function createReleaseTables(...names: string[]): Promise<void> {
  const ddb = new DynamoDBClient({});
  for (const TableName of names) {
    await ddb.send(new CreateTableCommand({ TableName, BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }] }));
  }
}
