/**
 * PostgreSQL for the tests: the throwaway cluster of database/throwaway.ts (`npm run postgres`),
 * and mocha hooks for a suite on its own cluster.
 */
import { Pool } from "pg";
import { type PostgresServer, startPostgres } from "../../database/throwaway";

export { type PostgresServer, startPostgres } from "../../database/throwaway";

/** What {@link postgresSuite} hands a suite once its `before` hook has run. */
export interface PostgresSuite {
  pg: PostgresServer;
  /** A pool on the cluster (`max` as asked). */
  db: Pool;
}

/**
 * Mocha hooks for a suite on its own cluster: started before its tests, with a pool and with
 * DATABASE_URL pointing at it (for the CLI); the pool ended, the cluster stopped and DATABASE_URL
 * restored after. Call it in the `describe` body; the fields are set once its `before` hook ran.
 */
export function postgresSuite(poolMax = 10): PostgresSuite {
  const suite = {} as PostgresSuite;
  const saved = process.env.DATABASE_URL;
  before(async () => {
    suite.pg = await startPostgres();
    suite.db = new Pool({ connectionString: suite.pg.url, max: poolMax });
    process.env.DATABASE_URL = suite.pg.url;
  });
  after(async () => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
    await suite.db?.end();
    await suite.pg?.stop();
  });
  return suite;
}
