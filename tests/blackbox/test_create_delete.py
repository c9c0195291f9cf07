"""CreateStream and DeleteStream: happy paths, lifecycle states, duplicate/limit errors
and request validation."""

import re

import pytest

from khelpers import (
    ACCOUNT, MAX_HASH_KEY, REGION, all_shards, assert_error, not_found_message, unique_name,
    validation_parts, wait_gone, wait_status,
)


def test_create_provisioned_stream_shapes(kinesis, stream):
    name = stream(3)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamName"] == name
    assert d["StreamStatus"] == "ACTIVE"
    assert d["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    assert d["RetentionPeriodHours"] == 24
    assert d["HasMoreShards"] is False
    ids = [s["ShardId"] for s in d["Shards"]]
    assert ids == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    # The hash key space [0, 2^128-1] is split into contiguous, non-overlapping ranges.
    prev_end = -1
    for s in d["Shards"]:
        start, end = int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])
        assert start == prev_end + 1
        assert end >= start
        prev_end = end
        assert "ParentShardId" not in s
        assert s["SequenceNumberRange"]["StartingSequenceNumber"].isdigit()
        assert "EndingSequenceNumber" not in s["SequenceNumberRange"]
    assert prev_end == MAX_HASH_KEY
    # Evenly split: every range is within one unit of 2^128 / 3.
    sizes = [int(s["HashKeyRange"]["EndingHashKey"]) - int(s["HashKeyRange"]["StartingHashKey"]) + 1
             for s in d["Shards"]]
    assert max(sizes) - min(sizes) <= 2


def test_create_returns_empty_body_and_starts_creating(kinesis, stream):
    name = unique_name()
    resp = kinesis.create_stream(StreamName=name, ShardCount=1)
    assert set(resp) == {"ResponseMetadata"}
    try:
        status = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"]
        assert status in ("CREATING", "ACTIVE")
        wait_status(kinesis, name, "ACTIVE")
    finally:
        wait_status(kinesis, name, "ACTIVE")
        kinesis.delete_stream(StreamName=name)
        wait_gone(kinesis, name)


def test_creating_stream_has_no_shards_yet(kinesis_nv):
    name = unique_name()
    kinesis_nv.create_stream(StreamName=name, ShardCount=1)
    try:
        d = kinesis_nv.describe_stream(StreamName=name)["StreamDescription"]
        if d["StreamStatus"] == "CREATING":
            # While CREATING the shards list is empty.
            assert d["Shards"] == []
    finally:
        wait_status(kinesis_nv, name, "ACTIVE")
        kinesis_nv.delete_stream(StreamName=name)
        wait_gone(kinesis_nv, name)


def test_create_duplicate_is_resource_in_use(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.create_stream, "ResourceInUseException",
                 f"Stream {name} under account {ACCOUNT} already exists.",
                 StreamName=name, ShardCount=1)


def test_create_over_shard_limit_is_limit_exceeded(kinesis):
    name = unique_name()
    msg = assert_error(kinesis.create_stream, "LimitExceededException", StreamName=name, ShardCount=100000)
    assert re.match(
        rf"This request would exceed the shard limit for the account {ACCOUNT} in {REGION}\. "
        r"Current shard count for the account: \d+\. Limit: \d+\. "
        r"Number of additional shards that would have resulted from this request: 100000\.", msg), msg
    assert_error(kinesis.describe_stream, "ResourceNotFoundException", not_found_message(name), StreamName=name)


def test_delete_stream_goes_deleting_then_gone(kinesis):
    name = unique_name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_status(kinesis, name, "ACTIVE")
    resp = kinesis.delete_stream(StreamName=name)
    assert set(resp) == {"ResponseMetadata"}
    try:
        status = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"]
        assert status == "DELETING"
    except kinesis.exceptions.ResourceNotFoundException:
        pass
    wait_gone(kinesis, name)
    assert name not in kinesis.list_streams()["StreamNames"]


def test_delete_missing_stream_is_not_found(kinesis):
    name = unique_name()
    assert_error(kinesis.delete_stream, "ResourceNotFoundException", not_found_message(name), StreamName=name)


def test_delete_accepts_enforce_consumer_deletion(kinesis):
    name = unique_name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_status(kinesis, name, "ACTIVE")
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    wait_gone(kinesis, name)


@pytest.mark.modern
def test_create_on_demand_has_four_shards(kinesis, stream):
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] == 4
    assert len(all_shards(kinesis, name)) == 4


@pytest.mark.modern
def test_create_provisioned_mode_explicit(kinesis, stream):
    name = stream(2, StreamModeDetails={"StreamMode": "PROVISIONED"})
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["OpenShardCount"] == 2


@pytest.mark.modern
def test_create_with_neither_count_nor_mode_is_on_demand(kinesis, stream):
    # `aws kinesis create-stream --stream-name s`: AWS creates an on-demand stream of 4 shards.
    name = stream(None)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] == 4
    assert len(all_shards(kinesis, name)) == 4


@pytest.mark.modern
def test_create_provisioned_mode_without_count_is_refused(kinesis):
    name = unique_name()
    assert_error(kinesis.create_stream, "InvalidArgumentException",
                 "ShardCount is required for PROVISIONED streams.",
                 StreamName=name, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert name not in kinesis.list_streams(Limit=10000)["StreamNames"]


@pytest.mark.modern
def test_create_with_tags(kinesis, stream):
    name = stream(1, Tags={"team": "core", "env": "test"})
    tags = kinesis.list_tags_for_stream(StreamName=name)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "test"), ("team", "core")]


# ----------------------------------------------------------------- validation


def test_create_invalid_name_pattern(kinesis_nv):
    assert_error(
        kinesis_nv.create_stream, "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        StreamName="bad name!", ShardCount=1)


def test_create_name_too_long(kinesis_nv):
    long_name = "a" * 129
    assert_error(
        kinesis_nv.create_stream, "ValidationException",
        f"1 validation error detected: Value '{long_name}' at 'streamName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
        StreamName=long_name, ShardCount=1)


def test_create_name_of_128_chars_is_fine(kinesis, stream):
    # On the disk engine this once answered 500: the catalog's file name was too long.
    name = stream(1, name="n" * 116 + unique_name("")[1:])
    assert len(name) == 128
    assert name in kinesis.list_streams(Limit=10000)["StreamNames"]
    put = kinesis.put_record(StreamName=name, Data=b"long", PartitionKey="k")
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["Data"] for r in records] == [b"long"]


def test_create_shard_count_zero(kinesis_nv):
    assert_error(
        kinesis_nv.create_stream, "ValidationException",
        "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
        StreamName=unique_name(), ShardCount=0)


def test_create_missing_name(kinesis_nv):
    assert_error(
        kinesis_nv.create_stream, "ValidationException",
        "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: "
        "Member must not be null",
        ShardCount=1)


def test_create_two_violations_counted(kinesis_nv):
    msg = assert_error(kinesis_nv.create_stream, "ValidationException", StreamName="a b", ShardCount=0)
    count, parts = validation_parts(msg)
    assert count == 2
    # AWS does not promise an order between members; compare as a set.
    assert sorted(parts) == sorted([
        "Value 'a b' at 'streamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        "Value '0' at 'shardCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ])
