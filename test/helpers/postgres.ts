/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, started with
 * pg_ctl on a free loopback port, removed on stop. Missing server binaries are an error naming
 * the fix, never a silent skip. As root (CI containers), runs the server as the `postgres` user.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Pool } from "pg";
import { freePort } from "../../cli/rehearsal/moto";

export interface PostgresServer {
  /** `postgres://remedy@127.0.0.1:<port>/remedy` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

function bin(name: string): string {
  const dirs = [process.env.PG_BIN, "/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", ...(process.env.PATH ?? "").split(":")].filter(Boolean) as string[];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(
    `PostgreSQL server binary ${name} not found. These tests need a local PostgreSQL 15 server: ` +
      "`apt-get install postgresql-15` (or set PG_BIN to the directory with initdb, pg_ctl and postgres).",
  );
}

export async function startPostgres(): Promise<PostgresServer> {
  const initdb = bin("initdb");
  const pgCtl = bin("pg_ctl");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-pg-"));
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
    const r = spawnSync(file, argv, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${String(r.status)}): ${r.stderr || r.stdout || r.error?.message}`);
  };
  if (asRoot) execFileSync("chown", ["postgres", root]);
  const data = path.join(root, "data");
  run(initdb, ["-D", data, "-A", "trust", "-U", "remedy", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-h 127.0.0.1 -p ${port} -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
  run(pgCtl, ["-D", data, "-o", options, "-l", path.join(root, "log"), "-w", "-t", "30", "start"]);
  run(bin("createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "remedy", "remedy"]);
  return {
    url: `postgres://remedy@127.0.0.1:${port}/remedy`,
    port,
    stop() {
      try {
        run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
      return Promise.resolve();
    },
  };
}

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
