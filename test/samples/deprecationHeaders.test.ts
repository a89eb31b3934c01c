/**
 * The sample middleware of samples/deprecation-headers (issue 37, 4), on a real HTTP server: a
 * lane's pod environment (as the component sets it) becomes Deprecation, Sunset and Link headers
 * that parse as RFC 9745 / RFC 8594 say; outside a lane nothing is added.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { deprecationEnv } from "../../components/delivery/legacyLane";
import { parseServiceSpec } from "../../core/config";
import { deprecationMiddleware } from "../../samples/deprecation-headers/deprecationHeaders";
import { lane, serviceInput } from "../helpers/fixtures";

async function get(env: NodeJS.ProcessEnv): Promise<http.IncomingHttpHeaders> {
  const mw = deprecationMiddleware(env);
  const server = http.createServer((req, res) => mw(req, res, () => res.end("ok")));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/v1/payments/1`, (res) => (res.resume(), resolve(res.headers))).on("error", reject));
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe("samples/deprecation-headers: a lane's responses say it is deprecated, when it stops, and where to read (issue 37, 4)", () => {
  it("sends the lane's dates and link as the RFCs spell them", async () => {
    const spec = parseServiceSpec(serviceInput({ legacy: [lane()] })).legacy[0];
    const h = await get(deprecationEnv(spec));
    // RFC 9745: Deprecation is an Item of type Date, "@" and the Unix time.
    assert.equal(h.deprecation, `@${Date.parse(spec.deprecatedAt) / 1000}`);
    // RFC 8594: Sunset is an HTTP-date (IMF-fixdate) for the lane's sunset in force.
    assert.equal(h.sunset, new Date(spec.sunsetAt).toUTCString());
    assert.equal(Date.parse(h.sunset ?? ""), Date.parse(spec.sunsetAt));
    assert.equal(h.link, '<https://docs.example.com/payments/v1-sunset>; rel="deprecation"; type="text/html"');
  });

  it("adds nothing outside a lane", async () => {
    const h = await get({});
    assert.equal(h.deprecation, undefined);
    assert.equal(h.sunset, undefined);
    assert.equal(h.link, undefined);
  });
});
