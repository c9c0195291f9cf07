"""PutRecords: per-record results, routing, the 500-record and 5 MiB limits, and errors.

AWS rejects a PutRecords request whose records (data + partition keys) exceed 5 MiB with
InvalidArgumentException "Records size exceeds 5 MB limit" (reported by AWS SDK users, e.g.
snowplow/enrich#685, aws/amazon-kinesis-streams-for-fluent-bit#21); kinesalite does not check
it and also cannot take a 5 MiB request at all (7 MB body cap), so that test is `modern`.
"""

import pytest

from khelpers import (
    all_shards, assert_error, md5_hash_key, not_found_message, shard_for_hash, unique_name, validation_parts,
)


def test_put_records_per_record_results_in_order(kinesis, stream):
    name = stream(3)
    shards = all_shards(kinesis, name)
    records = [{"Data": f"d{i}".encode(), "PartitionKey": f"pk-{i}"} for i in range(30)]
    r = kinesis.put_records(StreamName=name, Records=records)
    assert r["FailedRecordCount"] == 0
    assert len(r["Records"]) == 30
    for rec, res in zip(records, r["Records"]):
        assert res["ShardId"] == shard_for_hash(shards, md5_hash_key(rec["PartitionKey"]))
        assert res["SequenceNumber"].isdigit()
        assert "ErrorCode" not in res
    # Within one shard, sequence numbers follow request order.
    by_shard = {}
    for res in r["Records"]:
        by_shard.setdefault(res["ShardId"], []).append(int(res["SequenceNumber"]))
    for seqs in by_shard.values():
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_put_records_explicit_hash_key(kinesis, stream):
    name = stream(2)
    shards = all_shards(kinesis, name)
    r = kinesis.put_records(StreamName=name, Records=[
        {"Data": b"a", "PartitionKey": "p", "ExplicitHashKey": "0"},
        {"Data": b"b", "PartitionKey": "p", "ExplicitHashKey": shards[1]["HashKeyRange"]["StartingHashKey"]},
    ])
    assert [x["ShardId"] for x in r["Records"]] == [shards[0]["ShardId"], shards[1]["ShardId"]]


def test_put_records_500_is_the_max(kinesis, kinesis_nv, stream):
    name = stream(1)
    ok = kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p"}] * 500)
    assert ok["FailedRecordCount"] == 0 and len(ok["Records"]) == 500
    msg = assert_error(kinesis_nv.put_records, "ValidationException",
                       StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p"}] * 501)
    count, parts = validation_parts(msg)
    assert count == 1
    assert parts[0].startswith("Value '[")
    assert parts[0].endswith("]' at 'records' failed to satisfy constraint: "
                             "Member must have length less than or equal to 500")


def test_put_records_empty_list(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.put_records, "ValidationException",
                 "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
                 "Member must have length greater than or equal to 1",
                 StreamName=name, Records=[])


def test_put_records_member_paths_in_validation(kinesis_nv, stream):
    name = stream(1)
    msg = assert_error(kinesis_nv.put_records, "ValidationException", StreamName=name, Records=[
        {"Data": b"ok", "PartitionKey": "fine"},
        {"Data": b"x", "PartitionKey": ""},
        {"Data": b"y", "PartitionKey": "p", "ExplicitHashKey": "nope"},
    ])
    count, parts = validation_parts(msg)
    assert count == 2
    assert sorted(parts) == sorted([
        "Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        "Value 'nope' at 'records.3.member.explicitHashKey' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$",
    ])


def test_put_records_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.put_records, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p"}])


def test_put_records_bad_explicit_hash_key_rejects_request(kinesis, stream):
    name = stream(1)
    too_big = str(2**128)
    assert_error(kinesis.put_records, "InvalidArgumentException",
                 "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                 f"Specified value was {too_big}",
                 StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p", "ExplicitHashKey": too_big}])
    # Nothing was written.
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


@pytest.mark.modern
def test_put_records_5_mib_limit(kinesis, stream):
    name = stream(1)
    mib = 1024 * 1024
    # Exactly 5 MiB counting data and partition keys is accepted.
    exact = [{"Data": b"a" * (mib - 1), "PartitionKey": "k"} for _ in range(5)]
    r = kinesis.put_records(StreamName=name, Records=exact)
    assert r["FailedRecordCount"] == 0
    over = [{"Data": b"a" * mib, "PartitionKey": "k"} for _ in range(5)]
    assert_error(kinesis.put_records, "InvalidArgumentException", "Records size exceeds 5 MB limit",
                 StreamName=name, Records=over)
