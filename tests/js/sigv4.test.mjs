// `--auth sigv4` through the unmodified JS SDK v3 client (HTTP/2 by default, signing
// `:authority`): the right key is accepted, a wrong secret and an unknown key get AWS's errors.
//
//   cd tests/js && npm ci && RHEO_BIN=/path/to/rheo npm test

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const rheoBin = process.env.RHEO_BIN || (process.env.CARGO_TARGET_DIR
  ? path.join(process.env.CARGO_TARGET_DIR, "debug", "rheo")
  : path.join(repo, "target", "debug", "rheo"));
const region = "us-east-1";
const MISMATCH =
  "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation " +
  "for details.";

let server;
let endpoint;
let dataDir;
let serverLog = "";

before(async () => {
  assert.ok(existsSync(rheoBin), `rheo binary not found at ${rheoBin}`);
  dataDir = mkdtempSync(path.join(tmpdir(), "rheo-js-sigv4-"));
  const creds = path.join(dataDir, "credentials.toml");
  writeFileSync(creds, `[[principal]]
access_key_id = "AKIDALICE"
secret_access_key = "alice-secret"
account = "111111111111"
arn = "arn:aws:iam::111111111111:user/alice"
policies = ['{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}']
`);
  server = spawn(rheoBin, [
    "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", path.join(dataDir, "data"),
    "--auth", "sigv4", "--credentials", creds,
  ], { env: { ...process.env, RHEO_LOG: "warn,rheo_http=debug" }, stdio: ["ignore", "pipe", "pipe"] });
  server.stderr.setEncoding("utf8");
  server.stderr.on("data", (c) => { serverLog += c; });
  endpoint = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`not ready:\n${out}\n${serverLog}`)), 20_000);
    server.on("exit", (code) => reject(new Error(`rheo exited with ${code}:\n${out}\n${serverLog}`)));
    server.stdout.setEncoding("utf8");
    server.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/rheo ready on (http:\/\/[^\s()]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
});

after(() => {
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const client = (accessKeyId, secretAccessKey) =>
  new KinesisClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey } });

test("the right key over the default HTTP/2 client is accepted", async () => {
  const out = await client("AKIDALICE", "alice-secret").send(new ListStreamsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.deepEqual(out.StreamNames, []);
  // The request log line follows the answer: wait for it.
  let line;
  for (let i = 0; i < 100 && !line; i++) {
    line = serverLog.split("\n").find((l) => l.includes(`request_id=${out.$metadata.requestId}`));
    if (!line) await sleep(20);
  }
  assert.match(line ?? "", /http=HTTP\/2\.0/, "the signed call went over HTTP/2");
});

test("a wrong secret gets InvalidSignatureException", async () => {
  await assert.rejects(client("AKIDALICE", "not-alice-secret").send(new ListStreamsCommand({})), (e) => {
    assert.equal(e.name, "InvalidSignatureException");
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.ok(e.message.startsWith(MISMATCH), e.message);
    // The JS client signs `:authority` over HTTP/2 as `host`: the expected canonical string names it.
    assert.match(e.message, /\n\nThe Canonical String for this request should have been\n'POST\n\/\n/);
    assert.match(e.message, /\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n/);
    return true;
  });
});

test("an unknown key gets UnrecognizedClientException", async () => {
  await assert.rejects(client("AKIDNOBODY", "whatever").send(new ListStreamsCommand({})), (e) => {
    assert.equal(e.name, "UnrecognizedClientException");
    assert.equal(e.message, "The security token included in the request is invalid.");
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
});
