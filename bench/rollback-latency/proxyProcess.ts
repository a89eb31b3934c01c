/**
 * The modelled-latency proxies of bench/rollback-latency in a process of their own, so their
 * work does not share the measured handler's event loop: `setup` (no latency, for building the
 * world) and `endpoint` (the measured calls, modelled latency), each routing by service. Forked with
 * `{ main, routes, latencyMs }` as JSON in argv[2]; answers `{ setup, endpoint }` over IPC.
 */
import { startFaultProxy } from "../../test/helpers/faultProxy";

async function main(): Promise<void> {
  const { main: upstream, routes, latencyMs, floor } = JSON.parse(process.argv[2] ?? "{}") as { main: string; routes: Record<string, string>; latencyMs: number; floor?: boolean };
  const routing = await startFaultProxy(upstream, { routes });
  // Routes itself (one hop per measured call, not two through this one process).
  const latency = await startFaultProxy(upstream, { routes, ...(floor ? { latencyFloorMs: latencyMs } : { latencyMs }), serializeConditionalWrites: false });
  process.send?.({ setup: routing.endpoint, endpoint: latency.endpoint });
  process.on("disconnect", () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
