/**
 * The CLI side of operators' overrides (issue 35, 4): `remedy rollback/abort/promote` POST a
 * SigV4-signed JSON request (service `lambda`) to the stack's override URL, a Lambda function URL
 * of auth type AWS_IAM. Lambda verifies the signature and the caller's
 * `lambda:InvokeFunctionUrl`; the function records the caller Lambda verified.
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from "@smithy/types";
import { FUNCTION_URL } from "../../core/releaseState";
import type { OverrideRequest } from "../../lambdas/commons/overrides";

/** A loopback stand-in for the URL (tests, emulators): only when set explicitly. */
const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d{1,5}\/$/;

/** Why `url` is not one the CLI signs requests for, or undefined. */
export function overrideUrlProblem(url: string, explicit: boolean): string | undefined {
  if (FUNCTION_URL.test(url) || (explicit && LOOPBACK.test(url))) return undefined;
  return `${JSON.stringify(url)} is not a Lambda function URL (https://<url id>.lambda-url.<region>.on.aws/); use the stack output rollback.overridesUrl`;
}

/** The region a function URL belongs to (its host), or `fallback` for a loopback stand-in. */
export function regionOfUrl(url: string, fallback: string): string {
  return /\.lambda-url\.([a-z0-9-]+)\.on\.aws\//.exec(url)?.[1] ?? fallback;
}

export interface OverrideReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function sendOverride(
  url: string,
  request: OverrideRequest,
  opts: { readonly region: string; readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; readonly fetch?: typeof fetch },
): Promise<OverrideReply> {
  const u = new URL(url);
  const body = JSON.stringify(request);
  const signer = new SignatureV4({ service: "lambda", region: regionOfUrl(url, opts.region), credentials: opts.credentials, sha256: Hash.bind(null, "sha256") });
  const request$: HttpRequest = {
    method: "POST",
    protocol: u.protocol,
    hostname: u.hostname,
    ...(u.port ? { port: Number(u.port) } : {}),
    path: u.pathname,
    query: {},
    headers: { host: u.host, "content-type": "application/json" },
    body,
  };
  const signed = await signer.sign(request$);
  const res = await (opts.fetch ?? fetch)(url, { method: "POST", headers: signed.headers as Record<string, string>, body });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: text.slice(0, 500) };
  }
  return { status: res.status, body: parsed };
}
