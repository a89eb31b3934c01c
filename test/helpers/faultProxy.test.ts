import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { endToEndHeaders, startFaultProxy } from "./faultProxy";

/**
 * The proxy behind the latency models and the fault tests must not change what a connection
 * costs: moto's development server closes every connection (`Connection: close`), AWS endpoints
 * keep them open and the SDK v3 reuses them by default.
 */
describe("test helper: fault proxy connections", () => {
  let upstream: http.Server;
  let endpoint: string;

  before(async () => {
    // Answers like moto_server: a body, a request id, and a closed connection every time.
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": "r-1", connection: "close, x-hop", "x-hop": "1", "keep-alive": "timeout=1" });
        res.end("<ok/>");
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => upstream.close(() => r())));

  it("drops hop-by-hop fields and those the Connection field names, keeps the end-to-end ones", () => {
    assert.deepEqual(
      endToEndHeaders({ connection: "close, X-Trace", "x-trace": "a", "keep-alive": "timeout=5", "transfer-encoding": "chunked", upgrade: "h2c", te: "trailers", "proxy-connection": "keep-alive", "content-type": "text/xml", "x-amzn-requestid": "r-1" }),
      { "content-type": "text/xml", "x-amzn-requestid": "r-1" },
    );
  });

  it("keeps the client's connection open across requests although the upstream closes each one", async () => {
    const proxy = await startFaultProxy(endpoint);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { port } = new URL(proxy.endpoint);
      const call = () =>
        new Promise<{ reused: boolean; status?: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", agent, headers: { "content-type": "application/x-www-form-urlencoded" } }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (body += c));
            res.on("end", () => resolve({ reused: req.reusedSocket, status: res.statusCode, headers: res.headers, body }));
          });
          req.on("error", reject);
          req.end("Action=DescribeRules&Version=2015-12-01");
        });
      const calls = [];
      for (let i = 0; i < 3; i++) calls.push(await call());
      assert.deepEqual(
        calls.map((c) => c.reused),
        [false, true, true],
        "one TCP connection for three calls",
      );
      for (const c of calls) {
        assert.equal(c.status, 200);
        assert.equal(c.body, "<ok/>");
        assert.equal(c.headers["x-amzn-requestid"], "r-1");
        assert.equal(c.headers["x-hop"], undefined, "a field the upstream's Connection named stays on its hop");
        assert.notEqual(c.headers.connection, "close");
      }
      assert.deepEqual(proxy.forwarded, { DescribeRules: 3 });
    } finally {
      agent.destroy();
      await proxy.close();
    }
  });
});

describe("test helper: atOrAfter (the latency floor's clock)", () => {
  it("never runs before its deadline, whatever the delay", async () => {
    const { performance } = await import("node:perf_hooks");
    const { atOrAfter } = await import("./faultProxy");
    const delays = [0, 0.3, 1.2, 2.5, 7.9, 25.4];
    const early = await Promise.all(
      delays.map(
        (d) =>
          new Promise<number>((resolve) => {
            const deadline = performance.now() + d;
            atOrAfter(deadline, () => resolve(performance.now() - deadline));
          }),
      ),
    );
    for (const [i, late] of early.entries()) assert.ok(late >= 0, `${delays[i]} ms: ran ${-late} ms early`);
  });
});

describe("test helper: sentAtOf (where the latency floor starts)", () => {
  it("counts from the client's stamp, never from after the arrival, and from the arrival without a usable stamp", async () => {
    const { performance } = await import("node:perf_hooks");
    const { sentAtOf } = await import("./faultProxy");
    const arrived = 5_000;
    const epoch = (t: number) => String(performance.timeOrigin + t);
    assert.equal(sentAtOf(arrived, epoch(4_980)), 4_980, "stamped 20 ms before it was read");
    assert.equal(sentAtOf(arrived, epoch(5_007)), arrived, "a stamp after the arrival (clock skew) counts as the arrival");
    for (const bad of [undefined, "", "soon", "-3", ["1", "2"]]) assert.equal(sentAtOf(arrived, bad), arrived, String(bad));
  });
});

describe("test helper: stampSentAt", () => {
  it("stamps after the SDK signs, as late as the SDK's middleware goes", async () => {
    const { stampSentAt } = await import("./faultProxy");
    const { clients } = await import("./rollbackWorld");
    const elb = clients("http://127.0.0.1:9").elb;
    stampSentAt(elb);
    const listed = (elb.middlewareStack as unknown as { identify(): string[] }).identify();
    const order = listed.map((m) => m.split(" ")[0]);
    const at = order.indexOf("remedyBenchSentAt");
    assert.ok(at > order.indexOf("httpSigningMiddleware") && order.indexOf("httpSigningMiddleware") > 0, order.join(", "));
    // After it only the deserialize step, whose middleware parses the answer once the HTTP handler returns.
    assert.deepEqual(
      listed.slice(at + 1).filter((m) => !m.endsWith(" - deserialize")),
      [],
    );
  });
});
