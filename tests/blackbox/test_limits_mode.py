"""DescribeLimits, UpdateStreamMode and StreamARN addressing (all newer than kinesalite)."""

import pytest

from khelpers import (
    all_shards, assert_error, not_found_message, read_all, stream_arn, unique_name, validation_parts,
    wait_status,
)

pytestmark = pytest.mark.modern


def test_describe_limits_counts_open_shards(kinesis, stream):
    before = kinesis.describe_limits()
    for key in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit"):
        assert isinstance(before[key], int) and before[key] >= 0
    assert before["ShardLimit"] >= before["OpenShardCount"]
    stream(3)
    after = kinesis.describe_limits()
    assert after["OpenShardCount"] == before["OpenShardCount"] + 3
    assert after["OnDemandStreamCount"] == before["OnDemandStreamCount"]
    stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert kinesis.describe_limits()["OnDemandStreamCount"] == before["OnDemandStreamCount"] + 1


def test_update_stream_mode_to_on_demand(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    r = kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert set(r) == {"ResponseMetadata"}
    wait_status(kinesis, name, "ACTIVE")
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    # The stream stays usable.
    kinesis.put_record(StreamARN=arn, Data=b"x", PartitionKey="p")


def test_update_stream_mode_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.update_stream_mode, "ResourceNotFoundException", not_found_message(name),
                 StreamARN=stream_arn(name), StreamModeDetails={"StreamMode": "ON_DEMAND"})


def test_update_stream_mode_bad_mode(kinesis_nv, stream):
    name = stream(1)
    msg = assert_error(kinesis_nv.update_stream_mode, "ValidationException",
                       StreamARN=stream_arn(name), StreamModeDetails={"StreamMode": "SOMETIMES"})
    count, parts = validation_parts(msg)
    assert count == 1
    prefix = ("Value 'SOMETIMES' at 'streamModeDetails.streamMode' failed to satisfy constraint: "
              "Member must satisfy enum value set: [")
    assert parts[0].startswith(prefix) and parts[0].endswith("]")
    assert sorted(parts[0][len(prefix):-1].split(", ")) == ["ON_DEMAND", "PROVISIONED"]


def test_data_plane_by_stream_arn(kinesis, stream):
    name = stream(2)
    arn = stream_arn(name)
    put = kinesis.put_record(StreamARN=arn, Data=b"by-arn", PartitionKey="p", ExplicitHashKey="0")
    assert put["ShardId"] == "shardId-000000000000"
    batch = kinesis.put_records(StreamARN=arn, Records=[{"Data": b"batch", "PartitionKey": "p",
                                                         "ExplicitHashKey": "1"}])
    assert batch["FailedRecordCount"] == 0
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records, _ = read_all(kinesis, it, StreamARN=arn)
    assert [r["Data"] for r in records] == [b"by-arn", b"batch"]
    assert [s["ShardId"] for s in kinesis.list_shards(StreamARN=arn)["Shards"]] == \
        [s["ShardId"] for s in all_shards(kinesis, name)]


def test_control_plane_by_stream_arn(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    kinesis.increase_stream_retention_period(StreamARN=arn, RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    kinesis.split_shard(StreamARN=arn, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    wait_status(kinesis, name, "ACTIVE")
    kinesis.merge_shards(StreamARN=arn, ShardToMerge="shardId-000000000001",
                         AdjacentShardToMerge="shardId-000000000002")
    wait_status(kinesis, name, "ACTIVE")
    assert len(all_shards(kinesis, name)) == 4
    kinesis.delete_stream(StreamARN=arn)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] \
        == "DELETING"


def test_stream_arn_pattern_validation(kinesis_nv):
    assert_error(kinesis_nv.describe_stream_summary, "ValidationException",
                 "1 validation error detected: Value 'not-an-arn' at 'streamARN' failed to satisfy constraint: "
                 "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
                 StreamARN="not-an-arn")
