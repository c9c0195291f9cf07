"""SubscribeToShard through boto3 (HTTP/1.1, JSON event stream): every record written during a
subscription arrives in order with no gap or duplicate, across the end of a session (3 s here,
--subscription-ms) and across a split (ChildShards, then the children), and AWS's rule of one
subscription per consumer and shard."""

import threading
import time

from botocore.exceptions import ClientError

from khelpers import stream_arn


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
