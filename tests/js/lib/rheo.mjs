// What every JavaScript suite needs of a Rheo server: start the real binary on free ports with
// its own data directory, read the endpoints from its ready line, look up in its debug request
// log which HTTP version it saw for a request id, and stop it.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import { DescribeStreamSummaryCommand } from "@aws-sdk/client-kinesis";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const region = "us-east-1";
export const credentials = { accessKeyId: "test", secretAccessKey: "test" };
export const rheoBin = process.env.RHEO_BIN || (process.env.CARGO_TARGET_DIR
  ? path.join(process.env.CARGO_TARGET_DIR, "debug", "rheo")
  : path.join(repo, "target", "debug", "rheo"));

export class Rheo {
  /**
   * Starts `rheo serve` with `args` after its host, free port and data directory (a new
   * temporary one whose name starts with `prefix`, or `dataDir` when given), and resolves once
   * it prints its ready line: `rheo ready on [https://T and ]http://P (auth: ...)`.
   */
  static async start({ args = [], prefix = "rheo-js-", dataDir } = {}) {
    assert.ok(existsSync(rheoBin), `rheo binary not found at ${rheoBin}: build it or set RHEO_BIN`);
    const rheo = new Rheo();
    rheo.tmp = mkdtempSync(path.join(tmpdir(), prefix));
    rheo.dataDir = dataDir ?? rheo.tmp;
    rheo.log = "";
    rheo.server = spawn(
      rheoBin,
      ["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", rheo.dataDir, ...args],
      // One debug line per request, naming its id and HTTP version; nothing else at debug.
      { env: { ...process.env, RHEO_LOG: "warn,rheo_http=debug" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    rheo.server.stderr.setEncoding("utf8");
    rheo.server.stderr.on("data", (chunk) => { rheo.log += chunk; });
    const ready = await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`rheo not ready in 20 s:\n${out}\n${rheo.log}`)), 20_000);
      rheo.server.on("exit", (code) => reject(new Error(`rheo exited with ${code}:\n${out}\n${rheo.log}`)));
      rheo.server.stdout.setEncoding("utf8");
      rheo.server.stdout.on("data", (chunk) => {
        out += chunk;
        const line = out.split("\n").find((l) => l.startsWith("rheo ready"));
        if (line) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    });
    rheo.readyLine = ready;
    rheo.http = ready.match(/ (http:\/\/[^\s()]+)/)?.[1];
    // The certificate names localhost, so TLS clients connect by that name.
    const tlsPort = ready.match(/ https:\/\/127\.0\.0\.1:(\d+)/)?.[1];
    rheo.https = tlsPort ? `https://localhost:${tlsPort}` : undefined;
    return rheo;
  }

  /** The HTTP version Rheo logged for this request id (waits briefly: the line follows the answer). */
  async versionSeen(requestId) {
    assert.match(requestId ?? "", /^[0-9a-f-]{36}$/, "the answer carries x-amzn-RequestId");
    for (let i = 0; i < 100; i++) {
      const line = this.log.split("\n").find((l) => l.includes(`request_id=${requestId}`));
      const m = line?.match(/http=(HTTP\/[0-9.]+)/);
      if (m) return m[1];
      await sleep(20);
    }
    assert.fail(`no request log line for ${requestId}`);
  }

  /** Sends `command` and asserts that Rheo saw it over HTTP/2. */
  async sendH2(client, command) {
    const out = await client.send(command);
    assert.equal(await this.versionSeen(out.$metadata.requestId), "HTTP/2.0");
    return out;
  }

  /** The stream's summary once it is ACTIVE (each DescribeStreamSummary over HTTP/2). */
  async waitActive(client, name) {
    for (let i = 0; i < 200; i++) {
      const { StreamDescriptionSummary: s } = await this.sendH2(client, new DescribeStreamSummaryCommand({ StreamName: name }));
      if (s.StreamStatus === "ACTIVE") return s;
      await sleep(25);
    }
    assert.fail(`stream ${name} never became ACTIVE`);
  }

  /** SIGTERM, then SIGKILL after 5 s; the temporary directory removed. */
  async stop() {
    const server = this.server;
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}
