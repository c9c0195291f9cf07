"""SubscribeToShard through boto3 (HTTP/1.1, JSON event stream): every record written during a
subscription arrives in order with no gap or duplicate, across the end of a session (3 s here,
--subscription-ms) and across a split and a merge (ChildShards, then the children), AWS's rule of
one subscription per consumer and shard, and its takeover after 5 s."""

import threading
import time

import pytest

from botocore.exceptions import ClientError

from conftest import make_client, rheo_server
from khelpers import stream_arn, wait_status


def _consumer(kinesis, name, consumer="app"):
    c = kinesis.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName=consumer)["Consumer"]
    deadline = time.time() + 10
    while kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.05)
    return c["ConsumerARN"]


def _subscribe(kinesis, consumer, shard, position):
    return kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard, StartingPosition=position)


def _read_session(kinesis, consumer, shard, position, want=None, deadline=20.0):
    """Reads one subscription until it ends (or `want` records arrived); returns (records,
    last continuation, child shards)."""
    records, continuation, children = [], None, None
    stop = time.time() + deadline
    for event in _subscribe(kinesis, consumer, shard, position)["EventStream"]:
        e = event["SubscribeToShardEvent"]
        records += e["Records"]
        continuation = e["ContinuationSequenceNumber"]
        assert e["MillisBehindLatest"] >= 0
        if e.get("ChildShards"):
            children = e["ChildShards"]
        if want is not None and len(records) >= want:
            break
        assert time.time() < stop, "subscription did not end"
    return records, continuation, children


def test_records_arrive_in_order_across_session_ends(kinesis, stream):
    name = stream(1)
    consumer = _consumer(kinesis, name)
    shard = "shardId-000000000000"
    total = 60

    def produce():
        for i in range(total):
            kinesis.put_record(StreamName=name, Data=f"r{i:03}".encode(), PartitionKey=f"k{i}")
            time.sleep(0.1)  # 6 s of writes: at least one 3 s session ends mid-way

    writer = threading.Thread(target=produce)
    writer.start()
    got, position, sessions = [], {"Type": "TRIM_HORIZON"}, 0
    deadline = time.time() + 60
    while len(got) < total:
        assert time.time() < deadline, f"only {len(got)} of {total} records"
        records, continuation, _ = _read_session(kinesis, consumer, shard, position)
        got += records
        sessions += 1
        position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation}
        time.sleep(5.1 if sessions == 1 else 0)  # the first reconnect after the 5 s takeover window too
    writer.join()
    assert [r["Data"] for r in got] == [f"r{i:03}".encode() for i in range(total)]
    seqs = [int(r["SequenceNumber"]) for r in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == total
    assert sessions >= 2


def test_split_ends_the_parent_with_child_shards(kinesis, stream):
    name = stream(1)
    consumer = _consumer(kinesis, name)
    for i in range(5):
        kinesis.put_record(StreamName=name, Data=f"p{i}".encode(), PartitionKey=f"k{i}")
    kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                        NewStartingHashKey=str(2**127))
    deadline = time.time() + 10
    while kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.05)
    for i in range(20):
        kinesis.put_record(StreamName=name, Data=f"c{i}".encode(), PartitionKey=f"k{i}")
    records, _, children = _read_session(kinesis, consumer, "shardId-000000000000", {"Type": "TRIM_HORIZON"})
    assert [r["Data"] for r in records] == [f"p{i}".encode() for i in range(5)]
    assert children and sorted(c["ShardId"] for c in children) == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in children)
    from_children = []
    for c in children:
        got, _, _ = _read_session(kinesis, consumer, c["ShardId"], {"Type": "TRIM_HORIZON"}, want=None)
        from_children += got
    assert sorted(r["Data"] for r in from_children) == sorted(f"c{i}".encode() for i in range(20))


def test_second_subscription_within_5_s_is_refused(kinesis, stream):
    name = stream(1)
    consumer = _consumer(kinesis, name)
    first = _subscribe(kinesis, consumer, "shardId-000000000000", {"Type": "LATEST"})
    events = iter(first["EventStream"])
    next(events)
    try:
        _subscribe(kinesis, consumer, "shardId-000000000000", {"Type": "LATEST"})
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceInUseException"
        assert "Another active subscription" in e.response["Error"]["Message"]
    else:
        raise AssertionError("a second subscription within 5 s was accepted")
    first["EventStream"].close()


def test_five_consumers_on_one_shard_each_receive_everything(kinesis, stream):
    name = stream(1)
    consumers = [_consumer(kinesis, name, f"c{i}") for i in range(5)]
    results = {}

    def read(consumer):
        records, _, _ = _read_session(kinesis, consumer, "shardId-000000000000",
                                      {"Type": "TRIM_HORIZON"}, want=50)
        results[consumer] = [r["Data"] for r in records]

    readers = [threading.Thread(target=read, args=(c,)) for c in consumers]
    for t in readers:
        t.start()
    kinesis.put_records(StreamName=name, Records=[
        {"Data": f"r{i:02}".encode(), "PartitionKey": f"k{i}"} for i in range(50)])
    for t in readers:
        t.join(timeout=30)
    want = [f"r{i:02}".encode() for i in range(50)]
    assert len(results) == 5
    for consumer, got in results.items():
        assert got == want, consumer


def test_a_call_after_5_s_takes_over_and_the_old_subscription_ends():
    """AWS: a call 5 s or more after a successful one takes the subscription over, and the
    previous one fails with ResourceInUseException. Its own server, with sessions longer than
    the 5 s window."""
    from botocore.exceptions import EventStreamError

    with rheo_server(subscription_ms="30000") as url:
        kinesis = make_client(url)
        name = "takeover"
        kinesis.create_stream(StreamName=name, ShardCount=1)
        wait_status(kinesis, name)
        consumer = _consumer(kinesis, name)
        shard = "shardId-000000000000"
        first = _subscribe(kinesis, consumer, shard, {"Type": "LATEST"})
        old = iter(first["EventStream"])
        next(old)
        time.sleep(5.2)
        second = _subscribe(kinesis, consumer, shard, {"Type": "LATEST"})
        new = iter(second["EventStream"])
        next(new)
        kinesis.put_record(StreamName=name, Data=b"after-takeover", PartitionKey="k")
        got = []
        deadline = time.time() + 10
        while not got:
            assert time.time() < deadline, "the new subscription got nothing"
            got += next(new)["SubscribeToShardEvent"]["Records"]
        assert [r["Data"] for r in got] == [b"after-takeover"]
        # The old subscription ends with ResourceInUseException (an error event), without the
        # record.
        with pytest.raises(EventStreamError) as e:
            for event in old:
                assert not event["SubscribeToShardEvent"]["Records"], "the old subscription still got records"
        assert e.value.response["Error"]["Code"] == "ResourceInUseException"
        second["EventStream"].close()


def _follow_lineage(kinesis, consumer, name, written, done, deadline=90.0):
    """A consumer that follows the stream's lineage the way KCL does: each shard read through
    SubscribeToShard sessions (resumed after the continuation sequence number when a session
    ends) until it ends with ChildShards; a child is read once all its parents ended. Stops once
    the writer is `done` and every open shard has delivered what was `written` to it. Returns
    {shard: [records]}."""
    got, ended, parents, position = {}, set(), {}, {}
    pending = ["shardId-000000000000"]
    open_shards = None
    stop = time.time() + deadline

    def finished(shard):
        nonlocal open_shards
        if not done.is_set():
            return False
        if open_shards is None:
            open_shards = {s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]
                           if "EndingSequenceNumber" not in s["SequenceNumberRange"]}
        want = sum(1 for s, _ in written if s == shard)
        return shard in open_shards and len(got.get(shard, [])) >= want

    while pending:
        assert time.time() < stop, f"lineage not read in time: {sorted(got)}, pending {pending}"
        shard = pending.pop(0)
        if not all(p in ended for p in parents.get(shard, [])):
            pending.append(shard)
            continue
        pos = position.get(shard, {"Type": "TRIM_HORIZON"})
        children, continuation = None, None
        answer = _subscribe(kinesis, consumer, shard, pos)
        for event in answer["EventStream"]:
            e = event["SubscribeToShardEvent"]
            got.setdefault(shard, []).extend(e["Records"])
            continuation = e["ContinuationSequenceNumber"] or continuation
            if e.get("ChildShards"):
                children = e["ChildShards"]
            if finished(shard):
                break
        answer["EventStream"].close()
        if children:
            ended.add(shard)
            for c in children:
                parents[c["ShardId"]] = c["ParentShards"]
                if c["ShardId"] not in got and c["ShardId"] not in pending:
                    pending.append(c["ShardId"])
        elif not finished(shard):
            if continuation:
                position[shard] = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation}
            pending.append(shard)
    return got


def test_a_subscriber_following_lineage_gets_every_record_across_a_split_and_a_merge(kinesis, stream):
    """Records written continuously while the stream splits and then merges back: a subscriber
    that follows ChildShards (with 3 s sessions in between) receives every record once, each
    shard in order, parents before children."""
    name = stream(1)
    consumer = _consumer(kinesis, name)
    written, done = [], threading.Event()

    def wait_active():
        deadline = time.time() + 20
        while kinesis.describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            assert time.time() < deadline
            time.sleep(0.05)

    def produce():
        i = 0
        phase_end = time.time() + 1.5
        steps = ["split", "merge", None]
        while True:
            for _ in range(5):
                data = f"r{i:05}".encode()
                # Puts go on while the stream is UPDATING, as on AWS.
                out = kinesis.put_record(StreamName=name, Data=data, PartitionKey=f"k{i % 97}")
                written.append((out["ShardId"], data))
                i += 1
            time.sleep(0.05)
            if time.time() >= phase_end:
                step = steps.pop(0)
                if step == "split":
                    kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                        NewStartingHashKey=str(2**127))
                    wait_active()
                elif step == "merge":
                    kinesis.merge_shards(StreamName=name, ShardToMerge="shardId-000000000001",
                                         AdjacentShardToMerge="shardId-000000000002")
                    wait_active()
                else:
                    break
                phase_end = time.time() + 4  # spans at least one 3 s session end
        done.set()

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        got = _follow_lineage(kinesis, consumer, name, written, done)
    finally:
        done.set()
        writer.join(timeout=60)
    assert sorted(got) == ["shardId-000000000000", "shardId-000000000001",
                           "shardId-000000000002", "shardId-000000000003"]
    for shard, records in got.items():
        want = [d for s, d in written if s == shard]
        assert [r["Data"] for r in records] == want, shard
        seqs = [int(r["SequenceNumber"]) for r in records]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), shard
    assert sum(len(r) for r in got.values()) == len(written) > 100
