// The AWS SDK for JavaScript v3 against the real `rheo` binary on the disk engine, with the
// client exactly as its README builds it: `new KinesisClient({ endpoint, region, credentials })`.
// That client speaks HTTP/2 (NodeHttp2Handler) and signs `:authority` instead of `host`, so
// these tests are the regression test for issue 13's first item. Each answer's request id is
// looked up in Rheo's debug request log, which names the HTTP version the server saw: the
// tests fail if any call went over HTTP/1.1.
//
//   cd tests/js && npm ci && RHEO_BIN=/path/to/rheo npm test
//
// RHEO_BIN defaults to <repo>/target/debug/rheo (or $CARGO_TARGET_DIR/debug/rheo).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

import {
  KinesisClient,
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  ListStreamsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

import { Rheo, credentials, region } from "./lib/rheo.mjs";

let rheo;
let endpoint;
const versionSeen = (requestId) => rheo.versionSeen(requestId);
const sendH2 = (client, command) => rheo.sendH2(client, command);
const waitActive = (client, name) => rheo.waitActive(client, name);

async function waitGone(client, name) {
  for (let i = 0; i < 200; i++) {
    try {
      await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return;
      throw e;
    }
    await sleep(25);
  }
  assert.fail(`stream ${name} still exists`);
}

/** Every record of the shard from TRIM_HORIZON, following NextShardIterator until caught up. */
async function readAll(client, name, shardId) {
  const { ShardIterator } = await sendH2(
    client,
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  const records = [];
  let iterator = ShardIterator;
  for (let i = 0; i < 20 && iterator; i++) {
    const out = await sendH2(client, new GetRecordsCommand({ ShardIterator: iterator }));
    records.push(...out.Records);
    if (out.MillisBehindLatest === 0 && out.Records.length === 0) break;
    iterator = out.NextShardIterator;
  }
  return records;
}

/** The whole life of a stream through `client`: create, put one and many, read back, list, delete. */
async function roundTrip(client, name) {
  const text = new TextDecoder();
  await sendH2(client, new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
  const summary = await waitActive(client, name);
  assert.equal(summary.OpenShardCount, 2);

  const one = await sendH2(
    client,
    new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: new TextEncoder().encode("single") }),
  );
  assert.match(one.SequenceNumber, /^\d+$/);
  assert.match(one.ShardId, /^shardId-\d{12}$/);

  const batch = Array.from({ length: 50 }, (_, i) => ({
    PartitionKey: `pk-${i}`,
    Data: new TextEncoder().encode(`batch-${i}`),
  }));
  const many = await sendH2(client, new PutRecordsCommand({ StreamName: name, Records: batch }));
  assert.equal(many.FailedRecordCount ?? 0, 0);
  assert.equal(many.Records.length, 50);
  for (const r of many.Records) {
    assert.equal(r.ErrorCode, undefined);
    assert.match(r.SequenceNumber, /^\d+$/);
  }

  const { Shards } = await sendH2(client, new ListShardsCommand({ StreamName: name }));
  assert.equal(Shards.length, 2);
  const got = [];
  for (const shard of Shards) {
    const records = await readAll(client, name, shard.ShardId);
    // Within a shard, records come back in the order their sequence numbers give.
    const seqs = records.map((r) => BigInt(r.SequenceNumber));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    for (const r of records) {
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      got.push({ key: r.PartitionKey, data: text.decode(r.Data), seq: r.SequenceNumber });
    }
  }
  const want = [{ key: "k", data: "single", seq: one.SequenceNumber }].concat(
    batch.map((b, i) => ({ key: b.PartitionKey, data: text.decode(b.Data), seq: many.Records[i].SequenceNumber })),
  );
  const bySeq = (a, b) => a.seq.localeCompare(b.seq);
  assert.deepEqual([...got].sort(bySeq), [...want].sort(bySeq));

  const listed = await sendH2(client, new ListStreamsCommand({}));
  assert.ok(listed.StreamNames.includes(name), `${name} listed`);

  await sendH2(client, new DeleteStreamCommand({ StreamName: name }));
  await waitGone(client, name);
  const after = await sendH2(client, new ListStreamsCommand({}));
  assert.ok(!after.StreamNames.includes(name), `${name} no longer listed`);
}

describe("@aws-sdk/client-kinesis v3 against rheo (disk engine)", () => {
  before(async () => {
    rheo = await Rheo.start({
      args: [
        "--create-stream-ms", "100", "--delete-stream-ms", "100", "--update-stream-ms", "100",
        "--consumer-status-ms", "100", "--subscription-ms", "3000",
      ],
    });
    endpoint = rheo.http;
  });

  after(async () => {
    await rheo?.stop();
  });

  test("the default client (HTTP/2, signs :authority) works end to end", async () => {
    const client = new KinesisClient({ endpoint, region, credentials });
    try {
      // The default really is the HTTP/2 handler; the server log below proves the wire.
      assert.equal(client.config.requestHandler.metadata?.handlerProtocol, "h2");
      await roundTrip(client, `js-default-${process.pid}`);
    } finally {
      client.destroy();
    }
  });

  test("an explicit NodeHttp2Handler works the same", async () => {
    const client = new KinesisClient({
      endpoint,
      region,
      credentials,
      requestHandler: new NodeHttp2Handler({ sessionTimeout: 5000 }),
    });
    try {
      await roundTrip(client, `js-h2-${process.pid}`);
    } finally {
      client.destroy();
    }
  });

  test("SubscribeToShard pushes every record over HTTP/2", async () => {
    const client = new KinesisClient({ endpoint, region, credentials });
    const name = `js-sub-${process.pid}`;
    try {
      await sendH2(client, new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const { StreamARN } = await waitActive(client, name);
      const { Consumer } = await sendH2(
        client,
        new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: "js" }),
      );
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
      const want = Array.from({ length: 20 }, (_, i) => `r${i}`);
      for (const data of want) {
        await sendH2(client, new PutRecordCommand({
          StreamName: name, PartitionKey: data, Data: new TextEncoder().encode(data),
        }));
      }
      const got = [];
      const text = new TextDecoder();
      for await (const event of sub.EventStream) {
        if (!event.SubscribeToShardEvent) continue;
        assert.ok(event.SubscribeToShardEvent.ContinuationSequenceNumber);
        got.push(...event.SubscribeToShardEvent.Records.map((r) => text.decode(r.Data)));
        if (got.length >= want.length) break;
      }
      assert.deepEqual(got, want);
    } finally {
      client.destroy();
    }
  });

  test("a subscriber following lineage gets every record across session ends, a split and a merge", async () => {
    // Writes go on while the stream splits and merges back; subscriptions last 3 s here
    // (--subscription-ms), so sessions end mid-way. The subscriber reads each shard through
    // SubscribeToShard, resumes after the continuation sequence number when a session ends, and
    // moves to the ChildShards once a shard has ended, children only after all their parents.
    const client = new KinesisClient({ endpoint, region, credentials });
    const name = `js-lineage-${process.pid}`;
    const text = new TextDecoder();
    try {
      await sendH2(client, new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const { StreamARN } = await waitActive(client, name);
      const { Consumer } = await sendH2(client, new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: "lineage" }));
      for (let i = 0; i < 200; i++) {
        const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
        if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
        await sleep(25);
      }
      const written = [];
      let done = false;
      const produce = async () => {
        let i = 0;
        const writeFor = async (ms) => {
          const end = Date.now() + ms;
          while (Date.now() < end) {
            for (let j = 0; j < 5; j++, i++) {
              const data = `r${String(i).padStart(5, "0")}`;
              const out = await client.send(new PutRecordCommand({
                StreamName: name, PartitionKey: `k${i % 97}`, Data: new TextEncoder().encode(data),
              }));
              written.push({ shard: out.ShardId, data });
            }
            await sleep(50);
          }
        };
        await writeFor(1500);
        await client.send(new SplitShardCommand({
          StreamName: name, ShardToSplit: "shardId-000000000000", NewStartingHashKey: (2n ** 127n).toString(),
        }));
        await waitActive(client, name);
        await writeFor(4000);
        await client.send(new MergeShardsCommand({
          StreamName: name, ShardToMerge: "shardId-000000000001", AdjacentShardToMerge: "shardId-000000000002",
        }));
        await waitActive(client, name);
        await writeFor(4000);
        done = true;
      };
      const producer = produce();

      const got = new Map();
      const ended = new Set();
      const parents = new Map();
      const position = new Map();
      const pending = ["shardId-000000000000"];
      let openShards = null;
      const finished = async (shard) => {
        if (!done) return false;
        if (!openShards) {
          const { Shards } = await client.send(new ListShardsCommand({ StreamName: name }));
          openShards = new Set(Shards.filter((s) => !s.SequenceNumberRange.EndingSequenceNumber).map((s) => s.ShardId));
        }
        const want = written.filter((w) => w.shard === shard).length;
        return openShards.has(shard) && (got.get(shard)?.length ?? 0) >= want;
      };
      const deadline = Date.now() + 90_000;
      while (pending.length) {
        assert.ok(Date.now() < deadline, `lineage not read in time: ${[...got.keys()]}, pending ${pending}`);
        const shard = pending.shift();
        if (!(parents.get(shard) ?? []).every((p) => ended.has(p))) {
          pending.push(shard);
          await sleep(10);
          continue;
        }
        const start = position.get(shard) ?? { Type: "TRIM_HORIZON" };
        const sub = await client.send(new SubscribeToShardCommand({
          ConsumerARN: Consumer.ConsumerARN, ShardId: shard, StartingPosition: start,
        }));
        assert.equal(await versionSeen(sub.$metadata.requestId), "HTTP/2.0");
        let children = null;
        let continuation = null;
        let caughtUp = false;
        for await (const event of sub.EventStream) {
          const e = event.SubscribeToShardEvent;
          if (!e) continue;
          if (!got.has(shard)) got.set(shard, []);
          got.get(shard).push(...e.Records.map((r) => ({ data: text.decode(r.Data), seq: BigInt(r.SequenceNumber) })));
          continuation = e.ContinuationSequenceNumber ?? continuation;
          if (e.ChildShards?.length) children = e.ChildShards;
          if (await finished(shard)) {
            caughtUp = true;
            break;
          }
        }
        if (children) {
          ended.add(shard);
          for (const c of children) {
            parents.set(c.ShardId, c.ParentShards);
            if (!got.has(c.ShardId) && !pending.includes(c.ShardId)) pending.push(c.ShardId);
          }
        } else if (!caughtUp) {
          if (continuation) position.set(shard, { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: continuation });
          pending.push(shard);
        }
      }
      await producer;
      assert.deepEqual([...got.keys()].sort(), [
        "shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003",
      ]);
      let total = 0;
      for (const [shard, records] of got) {
        assert.deepEqual(records.map((r) => r.data), written.filter((w) => w.shard === shard).map((w) => w.data), shard);
        for (let i = 1; i < records.length; i++) assert.ok(records[i - 1].seq < records[i].seq, shard);
        total += records.length;
      }
      assert.equal(total, written.length);
      assert.ok(total > 100, `only ${total} records written`);
    } finally {
      client.destroy();
    }
  });

  test("errors come back typed over HTTP/2", async () => {
    const client = new KinesisClient({ endpoint, region, credentials });
    try {
      await assert.rejects(
        client.send(new DescribeStreamSummaryCommand({ StreamName: "js-no-such-stream" })),
        (e) => {
          assert.ok(e instanceof ResourceNotFoundException, `${e.name}: ${e.message}`);
          assert.equal(e.message, "Stream js-no-such-stream under account 000000000000 not found.");
          assert.equal(e.$metadata.httpStatusCode, 400);
          return true;
        },
      );
    } finally {
      client.destroy();
    }
  });
});
