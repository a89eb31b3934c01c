/**
 * Starts a real `moto_server` (AWS API emulator) on a free loopback port for integration tests
 * and benchmarks, and stops it afterwards. A missing binary is an error naming the fix, never a
 * silent skip.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { freePort } from "../../database/throwaway";

export { freePort };

export interface MotoServer {
  /** `http://127.0.0.1:<port>`: give it to SDK clients as `endpoint` or `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  readonly port: number;
  /** Wipes every resource in the emulator (moto's reset API) without restarting it. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Environment that makes AWS SDK v3 clients talk to moto with dummy credentials. */
export function motoEnv(endpoint: string, region = "eu-west-1"): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_SESSION_TOKEN: "testing",
  };
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */

/** The moto_server binary, checked runnable. @throws naming the install command. */
export function motoBinary(): string {
  const bin = process.env.MOTO_SERVER ?? "moto_server";
  const probe = spawnSync(bin, ["--help"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `moto_server not found or not runnable (${bin}): ${probe.error?.message ?? `exit ${String(probe.status)}`}. ` +
        "The integration tests and `remedy rehearse` need the moto AWS emulator: install it with `pip install 'moto[server]>=5.2'` " +
        "or point MOTO_SERVER at the binary.",
    );
  }
  return bin;
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`moto_server exited with code ${String(child.exitCode)} before it was ready:\n${output()}`);
    }
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 20 s:\n${output()}`);
}

export interface MotoOptions {
  /**
   * A Python script that patches moto and then runs its server with the same arguments (e.g.
   * bench/release-driver/moto_item_snapshots.py), run with `MOTO_PYTHON` (default `python3`, the
   * interpreter moto is installed for). Default: moto_server as shipped.
   */
  readonly launcher?: string;
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMoto(opts: MotoOptions = {}): Promise<MotoServer> {
  const bin = motoBinary();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const args = ["-H", "127.0.0.1", "-p", String(port)];
  const child = opts.launcher
    ? spawn(process.env.MOTO_PYTHON ?? "python3", [opts.launcher, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    await waitUntilUp(endpoint, child, () => log);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    endpoint,
    port,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      });
    },
  };
}

/** A VPC with two subnets in two AZs, as an ALB needs, in the emulator at `endpoint`. */
export async function createNetwork(endpoint: string, region: string): Promise<{ vpcId: string; subnetIds: string[] }> {
  const ec2 = new EC2Client({ endpoint, region, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc?.VpcId as string;
  const subnetIds: string[] = [];
  for (const [i, az] of ["a", "b"].entries()) {
    const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${i + 1}.0/24`, AvailabilityZone: `${region}${az}` }));
    subnetIds.push(subnet.Subnet?.SubnetId as string);
  }
  return { vpcId, subnetIds };
}
