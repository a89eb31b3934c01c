/**
 * Sample: the payments service's checkout endpoint, counting outcomes for the 10-second EMF
 * metrics (see checkoutMetrics.ts). Run with `node -r ts-node/register samples/emf-metrics/server.ts`;
 * POST /checkout answers 201, or 502 when the (simulated) payment provider call fails.
 */
import * as http from "node:http";
import { CheckoutMetrics } from "./checkoutMetrics";

export function checkoutServer(metrics: CheckoutMetrics, charge: () => Promise<void>): http.Server {
  return http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      res.writeHead(200).end("ok");
      return;
    }
    if (req.method !== "POST" || req.url !== "/checkout") {
      res.writeHead(404).end();
      return;
    }
    charge().then(
      () => {
        metrics.record(true);
        res.writeHead(201).end();
      },
      () => {
        metrics.record(false);
        res.writeHead(502).end();
      },
    );
  });
}

if (require.main === module) {
  const metrics = new CheckoutMetrics("payments");
  const stop = metrics.start();
  const failRate = Number(process.env.CHECKOUT_FAIL_RATE ?? "0");
  const server = checkoutServer(metrics, () => (Math.random() < failRate ? Promise.reject(new Error("provider")) : Promise.resolve()));
  server.listen(Number(process.env.PORT ?? 8080));
  process.on("SIGTERM", () => server.close(() => void stop()));
}
