import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  /** PEM file of the test CA, for NODE_EXTRA_CA_CERTS */
  caFile: string;
  /** server key and certificate (for 127.0.0.1 and localhost), signed by the CA */
  key: string;
  cert: string;
}

/** Whether the openssl binary is there (tests that need a test CA skip loudly without it). */
export function haveOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A throw-away CA and a server certificate it signed, made with the openssl CLI in `dir`. */
export function makeTestCa(dir: string): TestCa {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run(["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=talos test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run(["req", ...ec, "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", "/CN=127.0.0.1"]);
  writeFileSync(f("srv.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run(["x509", "-req", "-in", f("srv.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("srv.crt"), "-days", "2", "-extfile", f("srv.ext")]);
  return { caFile: f("ca.crt"), key: readFileSync(f("srv.key"), "utf8"), cert: readFileSync(f("srv.crt"), "utf8") };
}
