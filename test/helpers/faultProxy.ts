/**
 * A loopback HTTP proxy in front of moto that injects AWS faults per API operation: throttling,
 * 503s, and "applied but the response was lost". Counts the requests that reached moto per
 * operation, so tests can assert exactly how many times a mutating call was applied.
 */
import * as http from "node:http";
import { performance } from "node:perf_hooks";
import type { AddressInfo } from "node:net";

export type Fault = "throttle" | "unavailable" | "lose-response";

interface Rule {
  readonly operation: string;
  readonly fault: Fault;
  remaining: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** The next `times` requests for `operation` fail with `fault`. */
  inject(operation: string, fault: Fault, times: number): void;
  /** Requests that reached moto, by operation name. */
  readonly forwarded: Record<string, number>;
  /** Faults served, by operation name. */
  readonly faulted: Record<string, number>;
  /** Milliseconds moto took to answer (request forwarded to response headers), summed by operation. */
  readonly upstreamMs: Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/** Operation name of an AWS SDK request: JSON (`X-Amz-Target`), RPCv2 (`/operation/X`) or query (`Action=X`). */
function operationOf(req: http.IncomingMessage, body: string): string {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") return target.split(".").pop() ?? target;
  const rpc = /\/operation\/([A-Za-z]+)$/.exec(req.url ?? "");
  if (rpc) return rpc[1];
  const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body);
  return action ? action[1] : "unknown";
}

/**
 * Hop-by-hop fields (RFC 9110 section 7.6.1): they describe one connection, so a proxy drops them,
 * and those the Connection field names, instead of passing them on. moto's development server
 * answers every request with `Connection: close`; passed on, it made each SDK call through the
 * proxy open a new TCP connection, where AWS endpoints keep HTTP/1.1 connections open and the
 * SDK v3 reuses them by default (docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/
 * node-reusing-connections.html). The client's connection to the proxy is kept alive.
 */
export function endToEndHeaders(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const named = String(headers.connection ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const hop = new Set(["connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", ...named]);
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !hop.has(k.toLowerCase())));
}

/** Epoch milliseconds (sub-millisecond) at which a client handed the request to its HTTP layer. */
export const SENT_AT_HEADER = "x-remedy-bench-sent-at";

/**
 * When a request's latency floor starts (a `performance.now()` time of this process): when the
 * client stamped it as sent, so a busy proxy or emulator reading it late does not add to the
 * modelled latency; never after it arrived (a clock that disagrees); otherwise when it arrived.
 */
export function sentAtOf(arrived: number, stamp: string | string[] | undefined): number {
  const epochMs = Number(stamp);
  return typeof stamp === "string" && Number.isFinite(epochMs) && epochMs > 0 ? Math.min(arrived, epochMs - performance.timeOrigin) : arrived;
}

/**
 * Stamps every request an SDK client sends with SENT_AT_HEADER, after signing (the header is not
 * signed; moto does not check signatures), for a latency floor counted from the client's send.
 */
export function stampSentAt(client: { middlewareStack: { add: (mw: never, opts: never) => void } }): void {
  const mw = (next: (args: { request: { headers: Record<string, string> } }) => Promise<unknown>) => async (args: { request: { headers: Record<string, string> } }) => {
    args.request.headers[SENT_AT_HEADER] = String(performance.timeOrigin + performance.now());
    return next(args);
  };
  client.middlewareStack.add(mw as never, { step: "finalizeRequest", priority: "low", name: "remedyBenchSentAt" } as never);
}

/**
 * Runs `fn` at `deadline` (a `performance.now()` time), never before it: a timer to within a
 * millisecond (Node's timers count whole milliseconds of the loop's clock and may fire up to one
 * early), then a check each turn of the event loop.
 */
export function atOrAfter(deadline: number, fn: () => void): void {
  const left = deadline - performance.now();
  if (left <= 0) fn();
  else if (left > 2) setTimeout(() => atOrAfter(deadline, fn), left - 2);
  else setImmediate(() => atOrAfter(deadline, fn));
}

function faultResponse(res: http.ServerResponse, fault: Fault, json: boolean): void {
  if (fault === "throttle") {
    if (json) {
      res.writeHead(400, { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": "ThrottlingException" });
      res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException", message: "Rate of requests exceeds the allowed throughput." }));
    } else {
      res.writeHead(400, { "content-type": "text/xml" });
      res.end(
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
      );
    }
    return;
  }
  res.writeHead(503, { "content-type": "text/plain" });
  res.end("Service Unavailable");
}

/**
 * Conditional writes are forwarded one at a time. moto's TransactWriteItems is not atomic under
 * concurrent requests (a transaction that fails its condition restores the whole table from a
 * copy taken before it started, erasing a concurrent one that succeeded meanwhile), and its
 * conditional UpdateItem and PutItem check and write without a lock. Real DynamoDB conditional
 * writes are atomic; serialising them makes moto behave alike, and the handlers' conflict
 * handling still meets every interleaving of whole writes.
 */
const SERIALIZED = new Set(["TransactWriteItems", "UpdateItem", "PutItem"]);

/**
 * @param opts.serializeConditionalWrites forward conditional writes one at a time (default true);
 *   false only where no two requests ever write the same item (a bench where each service writes
 *   only its own release state).
 * @param opts.latencyMs hold each request this long before forwarding it (concurrent requests
 *   wait side by side): a model of the network and service time a real AWS call has and a local
 *   moto does not. Default 0.
 * @param opts.latencyFloorMs instead: forward at once and answer exactly this long after the
 *   request was sent (the client's SENT_AT_HEADER stamp, else its arrival), or when the emulator
 *   answered if later: every call takes max(floor, the emulator's own time), so the emulator's
 *   time is hidden below the floor, as another service's work is behind AWS's latency.
 * @param opts.routes upstream per AWS service (the signing name in the request's SigV4
 *   credential scope: `dynamodb`, `monitoring`, `elasticloadbalancing`, `ec2`, ...); others go to
 *   `upstream`. One moto per service: a moto_server answers concurrent requests largely one at a
 *   time, which AWS's separate services do not.
 */
export async function startFaultProxy(upstream: string, opts: { readonly serializeConditionalWrites?: boolean; readonly latencyMs?: number; readonly latencyFloorMs?: number; readonly routes?: Readonly<Record<string, string>> } = {}): Promise<FaultProxy> {
  const serialize = opts.serializeConditionalWrites ?? true;
  const defaultTarget = new URL(upstream);
  const routes = new Map(Object.entries(opts.routes ?? {}).map(([svc, url]) => [svc, new URL(url)]));
  let queue: Promise<void> = Promise.resolve();
  const rules: Rule[] = [];
  const forwarded: Record<string, number> = {};
  const faulted: Record<string, number> = {};
  const upstreamMs: Record<string, number> = {};

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const op = operationOf(req, body.toString());
      const rule = rules.find((r) => r.operation === op && r.remaining > 0);
      if (rule) rule.remaining -= 1;
      const json = typeof req.headers["x-amz-target"] === "string";
      if (rule && rule.fault !== "lose-response") {
        faulted[op] = (faulted[op] ?? 0) + 1;
        faultResponse(res, rule.fault, json);
        return;
      }
      forwarded[op] = (forwarded[op] ?? 0) + 1;
      const arrived = performance.now();
      const sentAt = sentAtOf(arrived, req.headers[SENT_AT_HEADER]);
      let done: () => void = () => undefined;
      const go = () => {
        if (serialize && SERIALIZED.has(op)) {
          const prior = queue;
          queue = new Promise<void>((r) => (done = r));
          void prior.then(() => forward());
        } else forward();
      };
      if (opts.latencyMs) setTimeout(go, opts.latencyMs);
      else go();
      res.on("close", () => done());
      function forward(): void {
      const sent = performance.now();
      const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1];
      const target = (service && routes.get(service)) || defaultTarget;
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: endToEndHeaders(req.headers) },
        (upRes) => {
          upstreamMs[op] = (upstreamMs[op] ?? 0) + (performance.now() - sent);
          if (rule?.fault === "lose-response") {
            upRes.resume();
            faulted[op] = (faulted[op] ?? 0) + 1;
            faultResponse(res, "unavailable", json);
            return;
          }
          if (!opts.latencyFloorMs) {
            res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
            upRes.pipe(res);
            return;
          }
          // The whole answer is read first and sent with one write at the floor, so answering
          // costs the proxy as little as possible when side-by-side calls come due together.
          const parts: Buffer[] = [];
          upRes.on("data", (c: Buffer) => parts.push(c));
          upRes.on("end", () => {
            const answer = () => {
              const payload = Buffer.concat(parts);
              res.writeHead(upRes.statusCode ?? 502, { ...endToEndHeaders(upRes.headers), "content-length": String(payload.length) });
              res.end(payload);
            };
            atOrAfter(sentAt + (opts.latencyFloorMs ?? 0), answer);
          });
        },
      );
      up.on("error", (err) => {
        res.writeHead(502);
        res.end(err.message);
      });
      up.end(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(operation, fault, times) {
      rules.push({ operation, fault, remaining: times });
    },
    forwarded,
    faulted,
    upstreamMs,
    reset() {
      rules.length = 0;
      for (const k of Object.keys(forwarded)) delete forwarded[k];
      for (const k of Object.keys(faulted)) delete faulted[k];
      for (const k of Object.keys(upstreamMs)) delete upstreamMs[k];
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** moto_server and a fault proxy in front of it, for one suite. */
export interface MotoBehindProxy {
  readonly moto: import("./moto").MotoServer;
  readonly proxy: FaultProxy;
}

/**
 * Starts moto_server and a fault proxy before the suite and stops both after it; before each
 * test, wipes moto and resets the proxy's rules and counters. Read the fields inside hooks/tests.
 */
export function useMotoBehindProxy(): MotoBehindProxy {
  const env = {} as { moto: MotoBehindProxy["moto"]; proxy: FaultProxy };
  before(async () => {
    const { startMoto } = await import("./moto");
    env.moto = await startMoto();
    env.proxy = await startFaultProxy(env.moto.endpoint);
  });
  after(async () => {
    await env.proxy?.close();
    await env.moto?.stop();
  });
  beforeEach(async () => {
    await env.moto.reset();
    env.proxy.reset();
  });
  return env;
}
