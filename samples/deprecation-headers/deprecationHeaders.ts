/**
 * Sample: a legacy lane's pods tell every caller that the version they call is deprecated and when
 * it stops (issue 37, 4). ALB cannot add response headers per listener rule, so the service does:
 * remedy sets three variables in a lane's pods (components/delivery/blueGreenService.ts
 * deprecationEnv), already in header form, and this middleware copies them onto every response:
 *
 *   Deprecation: @1764547200                                   (RFC 9745: a structured date)
 *   Sunset: Sun, 01 Mar 2026 00:00:00 GMT                       (RFC 8594: an HTTP-date)
 *   Link: <https://docs.example.com/v1-sunset>; rel="deprecation"; type="text/html"
 *
 * Outside a lane (the variables unset) it adds nothing, so the same image runs in a slot and in a
 * lane. Plain Node `http` handlers and Express-style `(req, res, next)` middleware both work.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** The headers a lane's responses carry, from its environment; empty outside a lane. */
export function deprecationHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.REMEDY_DEPRECATION) out.Deprecation = env.REMEDY_DEPRECATION;
  if (env.REMEDY_SUNSET) out.Sunset = env.REMEDY_SUNSET;
  if (env.REMEDY_DEPRECATION_LINK) out.Link = env.REMEDY_DEPRECATION_LINK;
  return out;
}

/** Express-style middleware: sets the headers, then calls `next`. A `Link` the handler sets later is kept beside ours. */
export function deprecationMiddleware(env: NodeJS.ProcessEnv = process.env) {
  const headers = deprecationHeaders(env);
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    for (const [name, value] of Object.entries(headers)) {
      const existing = res.getHeader(name);
      res.setHeader(name, name === "Link" && existing !== undefined ? [...(Array.isArray(existing) ? existing : [String(existing)]), value] : value);
    }
    next();
  };
}
