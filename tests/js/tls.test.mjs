// The AWS SDK for JavaScript v3 over TLS: rheo started with `--tls on`, the client's HTTP/2
// handler (NodeHttp2Handler) given the CA that rheo generated, HTTP/2 negotiated by ALPN. Each
// answer's request id is looked up in rheo's debug request log, which names the HTTP version
// the server saw; a node http2 session checks the ALPN result itself.
//
//   cd tests/js && npm ci && RHEO_BIN=/path/to/rheo npm test

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  DescribeStreamConsumerCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const defaultBin = process.env.CARGO_TARGET_DIR
  ? path.join(process.env.CARGO_TARGET_DIR, "debug", "rheo")
  : path.join(repo, "target", "debug", "rheo");
const rheoBin = process.env.RHEO_BIN || defaultBin;
const region = "us-east-1";
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

let server;
let dataDir;
let serverLog = "";
let httpsEndpoint; // https://localhost:<port>
let ca; // the CA PEM, as `rheo cert` prints it

/** Starts rheo with a TLS port and resolves with the https endpoint from its ready line. */
function startRheo() {
  assert.ok(existsSync(rheoBin), `rheo binary not found at ${rheoBin}: build it or set RHEO_BIN`);
  dataDir = mkdtempSync(path.join(tmpdir(), "rheo-js-tls-"));
  server = spawn(
    rheoBin,
    [
      "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir,
      "--tls", "on", "--tls-port", "0",
      "--create-stream-ms", "100", "--consumer-status-ms", "100", "--subscription-ms", "3000",
    ],
    { env: { ...process.env, RHEO_LOG: "warn,rheo_http=debug" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stderr.setEncoding("utf8");
  server.stderr.on("data", (chunk) => { serverLog += chunk; });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`rheo not ready in 20 s:\n${out}\n${serverLog}`)), 20_000);
    server.on("exit", (code) => reject(new Error(`rheo exited with ${code}:\n${out}\n${serverLog}`)));
    server.stdout.setEncoding("utf8");
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/rheo ready on https:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(`https://localhost:${m[1]}`);
      }
    });
  });
}

/** The HTTP version rheo logged for this request id. */
async function versionSeen(requestId) {
  assert.match(requestId ?? "", /^[0-9a-f-]{36}$/, "the answer carries x-amzn-RequestId");
  for (let i = 0; i < 100; i++) {
    const line = serverLog.split("\n").find((l) => l.includes(`request_id=${requestId}`));
    const m = line?.match(/http=(HTTP\/[0-9.]+)/);
    if (m) return m[1];
    await sleep(20);
  }
  assert.fail(`no request log line for ${requestId}`);
}

async function sendH2(client, command) {
  const out = await client.send(command);
  assert.equal(await versionSeen(out.$metadata.requestId), "HTTP/2.0");
  return out;
}

function tlsClient() {
  return new KinesisClient({
    endpoint: httpsEndpoint,
    region,
    credentials,
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
  });
}

async function waitActive(client, name) {
  for (let i = 0; i < 200; i++) {
    const { StreamDescriptionSummary: s } = await sendH2(client, new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s.StreamStatus === "ACTIVE") return s;
    await sleep(25);
  }
  assert.fail(`stream ${name} never became ACTIVE`);
}

describe("@aws-sdk/client-kinesis v3 over TLS (HTTP/2 by ALPN)", () => {
  before(async () => {
    httpsEndpoint = await startRheo();
    // `rheo cert` prints the CA the server generated into its data directory.
    const cert = spawnSync(rheoBin, ["cert", "--data-dir", dataDir], { encoding: "utf8" });
    assert.equal(cert.status, 0, cert.stderr);
    ca = cert.stdout;
    assert.equal(ca, readFileSync(path.join(dataDir, "tls", "ca.pem"), "utf8"));
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("ALPN picks h2 on the TLS port", async () => {
    const session = http2.connect(httpsEndpoint, { ca });
    try {
      await new Promise((resolve, reject) => {
        session.once("connect", resolve);
        session.once("error", reject);
      });
      assert.equal(session.encrypted, true);
      assert.equal(session.alpnProtocol, "h2");
      assert.equal(session.socket.authorized, true, "the certificate verified against the CA");
    } finally {
      session.close();
    }
  });

  test("create, put and get over https with HTTP/2", async () => {
    const client = tlsClient();
    const name = `js-tls-${process.pid}`;
    try {
      await sendH2(client, new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      await waitActive(client, name);
      const put = await sendH2(client, new PutRecordCommand({
        StreamName: name, PartitionKey: "k", Data: new TextEncoder().encode("over tls"),
      }));
      const { ShardIterator } = await sendH2(client, new GetShardIteratorCommand({
        StreamName: name, ShardId: put.ShardId, ShardIteratorType: "TRIM_HORIZON",
      }));
      const got = await sendH2(client, new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(got.Records.map((r) => new TextDecoder().decode(r.Data)), ["over tls"]);
      assert.equal(got.Records[0].SequenceNumber, put.SequenceNumber);
    } finally {
      client.destroy();
    }
  });

  test("SubscribeToShard streams events over TLS", async () => {
    const client = tlsClient();
    const name = `js-tls-sub-${process.pid}`;
    try {
      await sendH2(client, new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const { StreamARN } = await waitActive(client, name);
      const { Consumer } = await sendH2(client, new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: "tls" }));
      for (let i = 0; i < 200; i++) {
        const d = await sendH2(client, new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
        if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
        await sleep(25);
      }
      const sub = await client.send(new SubscribeToShardCommand({
        ConsumerARN: Consumer.ConsumerARN,
        ShardId: "shardId-000000000000",
        StartingPosition: { Type: "TRIM_HORIZON" },
      }));
      assert.equal(await versionSeen(sub.$metadata.requestId), "HTTP/2.0");
      const want = Array.from({ length: 10 }, (_, i) => `t${i}`);
      for (const data of want) {
        await sendH2(client, new PutRecordCommand({
          StreamName: name, PartitionKey: data, Data: new TextEncoder().encode(data),
        }));
      }
      const got = [];
      for await (const event of sub.EventStream) {
        if (!event.SubscribeToShardEvent) continue;
        got.push(...event.SubscribeToShardEvent.Records.map((r) => new TextDecoder().decode(r.Data)));
        if (got.length >= want.length) break;
      }
      assert.deepEqual(got, want);
    } finally {
      client.destroy();
    }
  });

  test("a client without the CA is refused, and the server keeps serving", async () => {
    const stranger = new KinesisClient({
      endpoint: httpsEndpoint,
      region,
      credentials,
      maxAttempts: 1,
      requestHandler: new NodeHttp2Handler({}),
    });
    try {
      await assert.rejects(
        stranger.send(new ListStreamsCommand({})),
        (e) => /certificate|self[- ]signed|UNABLE_TO|CERT_/i.test(`${e.code ?? ""} ${e.message}`),
      );
    } finally {
      stranger.destroy();
    }
    const client = tlsClient();
    try {
      await sendH2(client, new ListStreamsCommand({}));
    } finally {
      client.destroy();
    }
  });
});
