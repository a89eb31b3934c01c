/**
 * The headless Chromium the browser tests drive: `CHROMIUM` when set (another binary), else the
 * one `npm ci` brings (@sparticuz/chromium, a dev dependency whose registry tarball holds a
 * compressed Chromium, unpacked into the temp dir on first use): `npm ci && npm test` needs no
 * browser installed by hand (issue 36, 12). playwright-core drives it; it downloads nothing.
 */
import * as fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Flags for a headless run here: no sandbox as root, no GPU, no background network calls. */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchChromium(): Promise<Browser> {
  const given = process.env.CHROMIUM;
  if (given !== undefined) {
    if (!fs.existsSync(given)) throw new Error(`CHROMIUM=${given} does not exist; point it at a Chromium binary, or unset it to use the one npm ci installs (@sparticuz/chromium)`);
    return chromium.launch({ executablePath: given, headless: true, args: FLAGS });
  }
  let executablePath: string;
  try {
    // An ES module: loaded with require(esm) (Node 20.19+, 22.12+).
    const mod = (await import("@sparticuz/chromium")) as unknown as { default: { executablePath(): Promise<string> } };
    executablePath = await mod.default.executablePath();
  } catch (err) {
    throw new Error(`no Chromium: @sparticuz/chromium (a dev dependency; run npm ci) could not unpack its browser (${(err as Error).message}); or set CHROMIUM to a Chromium binary`);
  }
  return chromium.launch({ executablePath, headless: true, args: FLAGS });
}
