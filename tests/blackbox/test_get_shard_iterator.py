"""GetShardIterator: the five iterator types and their argument errors."""

import datetime
import re
import time

from khelpers import ACCOUNT, assert_error, read_all, unique_name, validation_parts

SHARD0 = "shardId-000000000000"


def _put(kinesis, name, n, pk="pk", pause=0.0):
    seqs = []
    for i in range(n):
        seqs.append(kinesis.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey=pk)["SequenceNumber"])
        if pause:
            time.sleep(pause)
    return seqs


def _iter(kinesis, name, kind, shard=SHARD0, **kw):
    return kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **kw)["ShardIterator"]


def _data(records):
    return [r["Data"].decode() for r in records]


def test_trim_horizon_reads_everything(kinesis, stream):
    name = stream(1)
    _put(kinesis, name, 3)
    records, _ = read_all(kinesis, _iter(kinesis, name, "TRIM_HORIZON"))
    assert _data(records) == ["r0", "r1", "r2"]


def test_latest_skips_existing_records(kinesis, stream):
    name = stream(1)
    _put(kinesis, name, 2)
    it = _iter(kinesis, name, "LATEST")
    assert kinesis.get_records(ShardIterator=it)["Records"] == []
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="pk")
    records, _ = read_all(kinesis, it)
    assert _data(records) == ["new"]


def test_at_and_after_sequence_number(kinesis, stream):
    name = stream(1)
    seqs = _put(kinesis, name, 4)
    at, _ = read_all(kinesis, _iter(kinesis, name, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]))
    assert [r["SequenceNumber"] for r in at] == seqs[1:]
    after, _ = read_all(kinesis, _iter(kinesis, name, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]))
    assert [r["SequenceNumber"] for r in after] == seqs[2:]
    last, _ = read_all(kinesis, _iter(kinesis, name, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[-1]))
    assert last == []


def test_at_timestamp_millisecond_precision(kinesis, stream, call):
    name = stream(1)
    _put(kinesis, name, 3, pause=0.03)
    # Read arrival times through the raw JSON API: boto3 would round-trip them through datetime.
    it = call("GetShardIterator", {"StreamName": name, "ShardId": SHARD0,
                                   "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    recs = call("GetRecords", {"ShardIterator": it})["Records"]
    arrivals = [r["ApproximateArrivalTimestamp"] for r in recs]
    assert arrivals == sorted(arrivals) and arrivals[0] < arrivals[1] < arrivals[2]
    # AT_TIMESTAMP starts at the first record whose arrival is >= the timestamp; the
    # timestamp is sent with millisecond precision, as the Java and JS SDKs do.
    it = call("GetShardIterator", {"StreamName": name, "ShardId": SHARD0, "ShardIteratorType": "AT_TIMESTAMP",
                                   "Timestamp": arrivals[1]})["ShardIterator"]
    got = call("GetRecords", {"ShardIterator": it})["Records"]
    assert [r["SequenceNumber"] for r in got] == [r["SequenceNumber"] for r in recs[1:]]


def test_at_timestamp_in_the_past_reads_everything(kinesis, stream):
    name = stream(1)
    _put(kinesis, name, 2)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    records, _ = read_all(kinesis, _iter(kinesis, name, "AT_TIMESTAMP", Timestamp=past))
    assert _data(records) == ["r0", "r1"]


def test_sequence_number_from_another_shard_is_refused(kinesis, stream):
    name = stream(2)
    r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey="0")
    assert r["ShardId"] == SHARD0
    assert_error(kinesis.get_shard_iterator, "InvalidArgumentException",
                 f"Invalid StartingSequenceNumber. It encodes {SHARD0}, while it was used in a call to a shard "
                 "with shardId-000000000001",
                 StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="AT_SEQUENCE_NUMBER",
                 StartingSequenceNumber=r["SequenceNumber"])


def test_sequence_number_required_for_at_sequence_number(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.get_shard_iterator, "InvalidArgumentException",
                 "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                 "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "
                 "AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
                 StreamName=name, ShardId=SHARD0, ShardIteratorType="AT_SEQUENCE_NUMBER")


def test_sequence_number_not_allowed_with_trim_horizon(kinesis, stream):
    name = stream(1)
    seq = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p")["SequenceNumber"]
    assert_error(kinesis.get_shard_iterator, "InvalidArgumentException",
                 "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                 "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "
                 "TRIM_HORIZON and also a StartingSequenceNumber.",
                 StreamName=name, ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON", StartingSequenceNumber=seq)


def test_timestamp_required_for_at_timestamp(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.get_shard_iterator, "InvalidArgumentException",
                 "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                 "Current request has no timestamp parameter.",
                 StreamName=name, ShardId=SHARD0, ShardIteratorType="AT_TIMESTAMP")


def test_future_at_timestamp_is_refused(kinesis, stream, call):
    name = stream(1)
    future_s = int(time.time()) + 3600
    msg = assert_error(kinesis.get_shard_iterator, "InvalidArgumentException",
                       StreamName=name, ShardId=SHARD0, ShardIteratorType="AT_TIMESTAMP",
                       Timestamp=future_s)
    m = re.fullmatch(r"The timestampInMillis parameter cannot be greater than the currentTimestampInMillis\. "
                     r"timestampInMillis: (\d+), currentTimestampInMillis: (\d+)", msg)
    assert m, msg
    assert int(m.group(1)) == future_s * 1000
    assert abs(int(m.group(2)) - time.time() * 1000) < 60_000
    # Now (or a moment ago) is fine: the iterator is at the tip.
    it = call("GetShardIterator", {"StreamName": name, "ShardId": SHARD0, "ShardIteratorType": "AT_TIMESTAMP",
                                   "Timestamp": time.time() - 1})["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_unknown_shard(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.get_shard_iterator, "ResourceNotFoundException",
                 f"Shard shardId-000000000005 in stream {name} under account {ACCOUNT} does not exist",
                 StreamName=name, ShardId="shardId-000000000005", ShardIteratorType="LATEST")


def test_unknown_stream(kinesis):
    # AWS words a missing stream here in terms of the shard, not the stream.
    name = unique_name()
    assert_error(kinesis.get_shard_iterator, "ResourceNotFoundException",
                 f"Shard {SHARD0} in stream {name} under account {ACCOUNT} does not exist",
                 StreamName=name, ShardId=SHARD0, ShardIteratorType="LATEST")


def test_bad_iterator_type(kinesis_nv, stream):
    name = stream(1)
    msg = assert_error(kinesis_nv.get_shard_iterator, "ValidationException",
                       StreamName=name, ShardId=SHARD0, ShardIteratorType="SOMEWHERE")
    count, parts = validation_parts(msg)
    assert count == 1
    prefix = ("Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: "
              "Member must satisfy enum value set: [")
    assert parts[0].startswith(prefix) and parts[0].endswith("]")
    # AWS lists the enum in its own (hash) order: compare the members, not the order.
    listed = parts[0][len(prefix):-1].split(", ")
    assert sorted(listed) == sorted(["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON",
                                     "LATEST", "AT_TIMESTAMP"])
