"""GetRecords: round trip of data / partition key / sequence number, Limit and order,
timestamps, MillisBehindLatest, iterator chaining, closed shards and bad iterators."""

import datetime

import pytest

from khelpers import assert_error, read_all, validation_parts, wait_status

SHARD0 = "shardId-000000000000"


def _trim(kinesis, name, shard=SHARD0):
    return kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]


def test_round_trip_of_record_fields(kinesis, stream):
    name = stream(1)
    payloads = [bytes(range(256)), b"", "héllo wörld".encode(), b"\x00\xff" * 1000]
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    put = [kinesis.put_record(StreamName=name, Data=p, PartitionKey=f"pk-{i}") for i, p in enumerate(payloads)]
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    r = kinesis.get_records(ShardIterator=_trim(kinesis, name))
    recs = r["Records"]
    assert [x["Data"] for x in recs] == payloads
    assert [x["PartitionKey"] for x in recs] == [f"pk-{i}" for i in range(len(payloads))]
    assert [x["SequenceNumber"] for x in recs] == [p["SequenceNumber"] for p in put]
    for x in recs:
        assert before <= x["ApproximateArrivalTimestamp"] <= after
    stamps = [x["ApproximateArrivalTimestamp"] for x in recs]
    assert stamps == sorted(stamps)
    assert isinstance(r["MillisBehindLatest"], int) and r["MillisBehindLatest"] >= 0
    assert isinstance(r["NextShardIterator"], str) and r["NextShardIterator"]


def test_limit_pages_in_order(kinesis, stream):
    name = stream(1)
    for i in range(5):
        kinesis.put_record(StreamName=name, Data=str(i).encode(), PartitionKey="p")
    it = _trim(kinesis, name)
    got = []
    for expected in (2, 2, 1):
        r = kinesis.get_records(ShardIterator=it, Limit=2)
        assert len(r["Records"]) == expected
        got += [x["Data"].decode() for x in r["Records"]]
        it = r["NextShardIterator"]
    assert got == ["0", "1", "2", "3", "4"]
    r = kinesis.get_records(ShardIterator=it, Limit=2)
    assert r["Records"] == []
    assert r["MillisBehindLatest"] == 0
    assert r["NextShardIterator"]


def test_iterator_can_be_reused(kinesis, stream):
    name = stream(1)
    kinesis.put_record(StreamName=name, Data=b"a", PartitionKey="p")
    it = _trim(kinesis, name)
    first = kinesis.get_records(ShardIterator=it)["Records"]
    again = kinesis.get_records(ShardIterator=it)["Records"]
    assert [x["SequenceNumber"] for x in first] == [x["SequenceNumber"] for x in again]


def test_empty_shard(kinesis, stream):
    name = stream(1)
    r = kinesis.get_records(ShardIterator=_trim(kinesis, name))
    assert r["Records"] == []
    assert r["MillisBehindLatest"] == 0
    assert r["NextShardIterator"]


def test_records_only_from_their_shard(kinesis, stream):
    name = stream(2)
    kinesis.put_record(StreamName=name, Data=b"zero", PartitionKey="p", ExplicitHashKey="0")
    kinesis.put_record(StreamName=name, Data=b"one", PartitionKey="p", ExplicitHashKey=str(2**128 - 1))
    r0, _ = read_all(kinesis, _trim(kinesis, name, SHARD0))
    r1, _ = read_all(kinesis, _trim(kinesis, name, "shardId-000000000001"))
    assert [x["Data"] for x in r0] == [b"zero"]
    assert [x["Data"] for x in r1] == [b"one"]


def _split_in_two(kinesis, name):
    kinesis.split_shard(StreamName=name, ShardToSplit=SHARD0, NewStartingHashKey=str(2**127))
    wait_status(kinesis, name, "ACTIVE")


def _read_closed_shard(kinesis, name):
    it = _trim(kinesis, name)
    records, last = [], None
    for _ in range(10):
        last = kinesis.get_records(ShardIterator=it)
        records += last["Records"]
        it = last.get("NextShardIterator")
        if not it:
            break
    return records, last


def test_closed_shard_ends_without_next_iterator(kinesis, stream):
    name = stream(1)
    kinesis.put_record(StreamName=name, Data=b"before-split", PartitionKey="p")
    _split_in_two(kinesis, name)
    records, last = _read_closed_shard(kinesis, name)
    assert [x["Data"] for x in records] == [b"before-split"]
    assert last.get("NextShardIterator") is None


@pytest.mark.modern
def test_closed_shard_reports_child_shards(kinesis, stream):
    name = stream(1)
    kinesis.put_record(StreamName=name, Data=b"before-split", PartitionKey="p")
    _split_in_two(kinesis, name)
    _, last = _read_closed_shard(kinesis, name)
    assert last.get("NextShardIterator") is None
    children = sorted(last["ChildShards"], key=lambda c: c["ShardId"])
    assert [c["ShardId"] for c in children] == ["shardId-000000000001", "shardId-000000000002"]
    for c in children:
        assert c["ParentShards"] == [SHARD0]
    assert children[0]["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**127 - 1)}
    assert children[1]["HashKeyRange"] == {"StartingHashKey": str(2**127), "EndingHashKey": str(2**128 - 1)}


def test_garbage_iterator(kinesis):
    # AWS's message for an undecodable iterator is not pinned down here: the type is.
    assert_error(kinesis.get_records, "InvalidArgumentException", ShardIterator="not-a-real-iterator")


def test_iterator_with_its_json_quotes_is_accepted(kinesis, stream):
    # `IT=$(aws kinesis get-shard-iterator ... --query 'ShardIterator')` without `--output text`
    # keeps the quotes; AWS reads the iterator anyway.
    name = stream(1)
    kinesis.put_record(StreamName=name, Data=b"q", PartitionKey="p")
    it = _trim(kinesis, name)
    r = kinesis.get_records(ShardIterator=f'"{it}"')
    assert [x["Data"] for x in r["Records"]] == [b"q"]
    assert r["NextShardIterator"]
    nxt = kinesis.get_records(ShardIterator=f'"{r["NextShardIterator"]}"')
    assert nxt["Records"] == []
    # One pair only: a lone quote is still an invalid iterator.
    assert_error(kinesis.get_records, "InvalidArgumentException", "Invalid ShardIterator.",
                 ShardIterator=f'"{it}')


def test_iterator_too_long(kinesis_nv):
    it = "A" * 513
    assert_error(kinesis_nv.get_records, "ValidationException",
                 f"1 validation error detected: Value '{it}' at 'shardIterator' failed to satisfy constraint: "
                 "Member must have length less than or equal to 512",
                 ShardIterator=it)


def test_limit_validation(kinesis_nv, stream):
    name = stream(1)
    it = _trim(kinesis_nv, name)
    assert_error(kinesis_nv.get_records, "ValidationException",
                 "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                 "Member must have value greater than or equal to 1",
                 ShardIterator=it, Limit=0)
    msg = assert_error(kinesis_nv.get_records, "ValidationException", ShardIterator="", Limit=10001)
    count, parts = validation_parts(msg)
    assert count == 2
    assert sorted(parts) == sorted([
        "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000",
        "Value '' at 'shardIterator' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ])
