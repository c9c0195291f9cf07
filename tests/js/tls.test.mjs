// The AWS SDK for JavaScript v3 over TLS: rheo started with `--tls on`, the client's HTTP/2
// handler (NodeHttp2Handler) given the CA that rheo generated, HTTP/2 negotiated by ALPN. Each
// answer's request id is looked up in rheo's debug request log, which names the HTTP version
// the server saw; a node http2 session checks the ALPN result itself.
//
//   cd tests/js && npm ci && RHEO_BIN=/path/to/rheo npm test

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import path from "node:path";
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

import { Rheo, credentials, region, rheoBin } from "./lib/rheo.mjs";

let rheo;
let httpsEndpoint; // https://localhost:<port>
let ca; // the CA PEM, as `rheo cert` prints it
const versionSeen = (requestId) => rheo.versionSeen(requestId);
const sendH2 = (client, command) => rheo.sendH2(client, command);
const waitActive = (client, name) => rheo.waitActive(client, name);

function tlsClient() {
  return new KinesisClient({
    endpoint: httpsEndpoint,
    region,
    credentials,
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
  });
}

describe("@aws-sdk/client-kinesis v3 over TLS (HTTP/2 by ALPN)", () => {
  before(async () => {
    rheo = await Rheo.start({
      prefix: "rheo-js-tls-",
      args: [
        "--tls", "on", "--tls-port", "0",
        "--create-stream-ms", "100", "--consumer-status-ms", "100", "--subscription-ms", "3000",
      ],
    });
    httpsEndpoint = rheo.https;
    assert.ok(httpsEndpoint, rheo.readyLine);
    // `rheo cert` prints the CA the server generated into its data directory.
    const cert = spawnSync(rheoBin, ["cert", "--data-dir", rheo.dataDir], { encoding: "utf8" });
    assert.equal(cert.status, 0, cert.stderr);
    ca = cert.stdout;
    assert.equal(ca, readFileSync(path.join(rheo.dataDir, "tls", "ca.pem"), "utf8"));
  });

  after(async () => {
    await rheo?.stop();
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
