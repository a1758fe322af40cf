/**
 * `talos proxy` overhead (docs/proxy.md), closed loop with wrk at one load for every row:
 *   1. the central server's own warm verify      vs  2. the sidecar's warm HIT (same key, same body)
 *   3. a bare node:http app                      vs  4. the same app behind `talos proxy --mode gateway`
 * Every process is a child (central `serve admin` on the memory database, the proxies, the app), so
 * the load client and the servers share the machine the same way for each row.
 *
 *   node --conditions=development --import tsx bench/proxy.ts [--seconds 5] [--connections 16] [--json]
 *
 * Overhead per request is reported two ways: the p50 latency difference and the difference of
 * 1/throughput (CPU time per request when the machine is the bottleneck, as on 2 cores).
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { issueAt, verifyAt, warm } from "../test/support/cluster.js";
import { startTalos, stopAllTalos } from "../test/support/process.js";
import { findWrk, runWrk, type WrkResult } from "./wrk.js";

const APP = `
const http = require("node:http");
const s = http.createServer((req, res) => { req.resume(); req.on("end", () => { res.writeHead(200, { "content-type": "application/json" }); res.end('{"ok":true}'); }); });
s.listen(0, "127.0.0.1", () => console.log("APP_PORT " + s.address().port));
`;

async function startApp(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ["-e", APP], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (l) => {
      const m = /^APP_PORT (\d+)/.exec(l);
      if (m) resolve(m[1]!);
    });
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const row = (name: string, r: WrkResult) => ({ name, rps: Math.round(r.rps), p50_ms: r3(r.p50), p99_ms: r3(r.p99), non2xx: r.non2xx, errors: r.errors });

async function main() {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, connections: { type: "string", default: "16" }, json: { type: "boolean", default: false } } });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const wrk = findWrk();
  if (!wrk) throw new Error("wrk is not installed (apt-get install wrk)");
  const dir = mkdtempSync(join(tmpdir(), "talos-bench-proxy-"));
  const quiet = { TALOS_LOG_LEVEL: "warn" };
  const central = await startTalos({
    args: ["serve", "admin"],
    env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: "bench-proxy-hmac-secret-0123456789abcdef", TALOS_CREDENTIALS_ISSUER: "https://bench.test", ...quiet },
  });
  const app = await startApp();
  const proxyArgs = ["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"];
  const [sidecar, gateway] = await Promise.all([
    startTalos({ args: ["proxy", "--upstream", central.apiUrl, ...proxyArgs], env: quiet }),
    startTalos({ args: ["proxy", "--mode", "gateway", "--upstream", app.url, "--talos", central.apiUrl, ...proxyArgs], env: quiet }),
  ]);
  try {
    const k = await issueAt(central.apiUrl);
    await warm(central.apiUrl, k.secret);
    await verifyAt(sidecar.apiUrl, k.secret);
    const verifyBody = JSON.stringify({ credential: k.secret });
    const run = (url: string, path: string, body: string, headers: Record<string, string> = {}, n = 0) =>
      runWrk({ wrk, url, requests: [{ path, body, headers }], connections, seconds, scriptPath: join(dir, `s${n}.lua`) });
    const verifyPath = "/v2alpha1/admin/apiKeys:verify";
    // short warm-up of each target (JIT, connection pools), then the measured runs
    const auth = { authorization: `Bearer ${k.secret}` };
    for (const [u, p, b, h] of [[central.apiUrl, verifyPath, verifyBody, {}], [sidecar.apiUrl, verifyPath, verifyBody, {}], [app.url, "/", "{}", {}], [gateway.apiUrl, "/", "{}", auth]] as const) {
      await runWrk({ wrk, url: u, requests: [{ path: p, body: b, headers: h }], connections, seconds: 1, scriptPath: join(dir, "w.lua") });
    }
    const centralR = await run(central.apiUrl, verifyPath, verifyBody, {}, 1);
    const sidecarR = await run(sidecar.apiUrl, verifyPath, verifyBody, {}, 2);
    const appR = await run(app.url, "/", "{}", {}, 3);
    const gatewayR = await run(gateway.apiUrl, "/", "{}", auth, 4);
    const perReqUs = (a: WrkResult, b: WrkResult) => Math.round((1e6 / a.rps - 1e6 / b.rps) * 10) / 10;
    const result = {
      connections,
      seconds,
      rows: [row("central warm verify", centralR), row("sidecar warm HIT", sidecarR), row("bare app", appR), row("gateway -> app", gatewayR)],
      sidecar_vs_central: { p50_ms_delta: +(sidecarR.p50 - centralR.p50).toFixed(3), us_per_request_delta: perReqUs(sidecarR, centralR) },
      gateway_overhead: { p50_ms: +(gatewayR.p50 - appR.p50).toFixed(3), p99_ms: +(gatewayR.p99 - appR.p99).toFixed(3), us_per_request: perReqUs(gatewayR, appR) },
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      for (const r of result.rows) console.log(`${r.name.padEnd(22)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
      const sign = (x: number) => (x >= 0 ? `+${x}` : String(x));
      const s = result.sidecar_vs_central;
      const g = result.gateway_overhead;
      console.log(`sidecar HIT vs central verify: p50 ${sign(s.p50_ms_delta)} ms, ${sign(s.us_per_request_delta)} µs/request (1/throughput)`);
      console.log(`gateway overhead per request: p50 ${sign(g.p50_ms)} ms, p99 ${sign(g.p99_ms)} ms, ${sign(g.us_per_request)} µs/request (1/throughput)`);
    }
  } finally {
    app.stop();
    await stopAllTalos();
  }
}

await main();
