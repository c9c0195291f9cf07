"""DescribeStream (paged), DescribeStreamSummary, ARN format and not-found wording.

kinesalite ignores DescribeStream's Limit / ExclusiveStartShardId (it always returns every
shard), while AWS documents and implements the paging: those tests are marked `modern`.
"""

import datetime

import pytest

from khelpers import ACCOUNT, REGION, assert_error, not_found_message, stream_arn, unique_name


@pytest.mark.modern
def test_describe_stream_paging_with_limit(kinesis, stream):
    name = stream(3)
    first = kinesis.describe_stream(StreamName=name, Limit=1)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000"]
    assert first["HasMoreShards"] is True
    second = kinesis.describe_stream(StreamName=name, Limit=1,
                                     ExclusiveStartShardId="shardId-000000000000")["StreamDescription"]
    assert [s["ShardId"] for s in second["Shards"]] == ["shardId-000000000001"]
    assert second["HasMoreShards"] is True
    rest = kinesis.describe_stream(StreamName=name,
                                   ExclusiveStartShardId="shardId-000000000001")["StreamDescription"]
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    assert rest["HasMoreShards"] is False


@pytest.mark.modern
def test_describe_stream_exclusive_start_after_last_is_empty(kinesis, stream):
    name = stream(2)
    d = kinesis.describe_stream(StreamName=name, ExclusiveStartShardId="shardId-000000000001")["StreamDescription"]
    assert d["Shards"] == []
    assert d["HasMoreShards"] is False


def test_describe_stream_fields(kinesis, stream):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    name = stream(1)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    assert d["EncryptionType"] == "NONE"
    assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    created = d["StreamCreationTimestamp"]
    assert before <= created <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)


def test_describe_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.describe_stream, "ResourceNotFoundException", not_found_message(name), StreamName=name)


def test_describe_stream_limit_validation(kinesis_nv, stream):
    name = stream(1)
    assert_error(
        kinesis_nv.describe_stream, "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
        StreamName=name, Limit=0)
    assert_error(
        kinesis_nv.describe_stream, "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
        StreamName=name, Limit=10001)


def test_describe_stream_summary(kinesis, stream):
    name = stream(2)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamName"] == name
    assert s["StreamARN"] == stream_arn(name)
    assert s["StreamStatus"] == "ACTIVE"
    assert s["RetentionPeriodHours"] == 24
    assert s["OpenShardCount"] == 2
    assert s["EncryptionType"] == "NONE"
    assert s["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert isinstance(s["StreamCreationTimestamp"], datetime.datetime)


def test_describe_stream_summary_missing(kinesis):
    name = unique_name()
    assert_error(kinesis.describe_stream_summary, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name)


@pytest.mark.modern
def test_describe_stream_summary_modern_fields(kinesis, stream):
    name = stream(1)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["ConsumerCount"] == 0


@pytest.mark.modern
def test_describe_by_stream_arn(kinesis, stream):
    name = stream(2)
    d = kinesis.describe_stream(StreamARN=stream_arn(name))["StreamDescription"]
    assert d["StreamName"] == name
    assert len(d["Shards"]) == 2
    s = kinesis.describe_stream_summary(StreamARN=stream_arn(name))["StreamDescriptionSummary"]
    assert s["StreamName"] == name


@pytest.mark.modern
def test_describe_by_arn_of_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.describe_stream_summary, "ResourceNotFoundException", not_found_message(name),
                 StreamARN=stream_arn(name))
