"""PutRecord: shard routing by MD5(partition key), ExplicitHashKey, SequenceNumberForOrdering,
and its errors."""

import pytest

from khelpers import (
    MAX_HASH_KEY, all_shards, assert_error, md5_hash_key, not_found_message, shard_for_hash, unique_name,
)


def test_put_record_response_shape(kinesis, stream):
    name = stream(1)
    r = kinesis.put_record(StreamName=name, Data=b"hello", PartitionKey="pk")
    assert r["ShardId"] == "shardId-000000000000"
    assert r["SequenceNumber"].isdigit()


@pytest.mark.modern
def test_put_record_reports_encryption_type(kinesis, stream):
    name = stream(1)
    r = kinesis.put_record(StreamName=name, Data=b"hello", PartitionKey="pk")
    assert r["EncryptionType"] == "NONE"


def test_put_record_routes_by_md5_of_partition_key(kinesis, stream):
    name = stream(5)
    shards = all_shards(kinesis, name)
    seen = set()
    for i in range(40):
        pk = f"key-{i}"
        r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=pk)
        expected = shard_for_hash(shards, md5_hash_key(pk))
        assert r["ShardId"] == expected, pk
        seen.add(expected)
    assert len(seen) >= 4  # 40 random-looking keys hit (almost) every shard


def test_put_record_unicode_partition_key_hashes_utf8(kinesis, stream):
    name = stream(4)
    shards = all_shards(kinesis, name)
    for pk in ["é", "日本語のキー", "🚀-rocket", "Ω" * 100]:
        r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=pk)
        assert r["ShardId"] == shard_for_hash(shards, md5_hash_key(pk)), pk


def test_put_record_explicit_hash_key_overrides_partition_key(kinesis, stream):
    name = stream(4)
    shards = all_shards(kinesis, name)
    for s in shards:
        for key in (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]):
            r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="same-pk", ExplicitHashKey=key)
            assert r["ShardId"] == s["ShardId"]
    r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey=str(MAX_HASH_KEY))
    assert r["ShardId"] == shards[-1]["ShardId"]


def test_put_record_sequence_numbers_increase(kinesis, stream):
    name = stream(1)
    prev = None
    for i in range(5):
        kw = {"SequenceNumberForOrdering": prev} if prev else {}
        r = kinesis.put_record(StreamName=name, Data=str(i).encode(), PartitionKey="pk", **kw)
        if prev is not None:
            assert int(r["SequenceNumber"]) > int(prev)
        prev = r["SequenceNumber"]


def test_put_record_empty_data_is_allowed(kinesis, stream):
    name = stream(1)
    r = kinesis.put_record(StreamName=name, Data=b"", PartitionKey="pk")
    assert r["SequenceNumber"].isdigit()


def test_put_record_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.put_record, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name, Data=b"x", PartitionKey="pk")


def test_put_record_explicit_hash_key_out_of_range(kinesis, stream):
    name = stream(1)
    too_big = str(MAX_HASH_KEY + 1)
    assert_error(kinesis.put_record, "InvalidArgumentException",
                 "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                 f"Specified value was {too_big}",
                 StreamName=name, Data=b"x", PartitionKey="pk", ExplicitHashKey=too_big)


def test_put_record_explicit_hash_key_pattern(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.put_record, "ValidationException",
                 "1 validation error detected: Value 'abc' at 'explicitHashKey' failed to satisfy constraint: "
                 "Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$",
                 StreamName=name, Data=b"x", PartitionKey="pk", ExplicitHashKey="abc")


def test_put_record_partition_key_too_long(kinesis_nv, stream):
    name = stream(1)
    pk = "k" * 257
    assert_error(kinesis_nv.put_record, "ValidationException",
                 f"1 validation error detected: Value '{pk}' at 'partitionKey' failed to satisfy constraint: "
                 "Member must have length less than or equal to 256",
                 StreamName=name, Data=b"x", PartitionKey=pk)


def test_put_record_partition_key_of_256_is_fine(kinesis, stream):
    name = stream(1)
    kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k" * 256)


def test_put_record_empty_partition_key(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.put_record, "ValidationException",
                 "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: "
                 "Member must have length greater than or equal to 1",
                 StreamName=name, Data=b"x", PartitionKey="")


def test_put_record_missing_data(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.put_record, "ValidationException",
                 "1 validation error detected: Value null at 'data' failed to satisfy constraint: "
                 "Member must not be null",
                 StreamName=name, PartitionKey="pk")


def test_put_record_sequence_number_for_ordering_pattern(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.put_record, "ValidationException",
                 "1 validation error detected: Value 'abc' at 'sequenceNumberForOrdering' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,128}))$",
                 StreamName=name, Data=b"x", PartitionKey="pk", SequenceNumberForOrdering="abc")
