"""ListShards: listing, ExclusiveStartShardId, MaxResults / NextToken paging, every
ShardFilter type, StreamCreationTimestamp, and argument errors.

kinesalite implements ListShards without MaxResults / NextToken paging and without
ShardFilter (both documented by AWS); those tests are marked `modern`.
"""

import time

import pytest

from khelpers import assert_error, not_found_message, unique_name, wait_status

S0, S1, S2 = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"


def _ids(resp):
    return [s["ShardId"] for s in resp["Shards"]]


def test_list_shards_basic(kinesis, stream):
    name = stream(3)
    r = kinesis.list_shards(StreamName=name)
    assert _ids(r) == [S0, S1, S2]
    described = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    assert r["Shards"] == described
    assert "NextToken" not in r


def test_list_shards_exclusive_start_shard_id(kinesis, stream):
    name = stream(3)
    assert _ids(kinesis.list_shards(StreamName=name, ExclusiveStartShardId=S0)) == [S1, S2]
    assert _ids(kinesis.list_shards(StreamName=name, ExclusiveStartShardId=S2)) == []


def test_list_shards_with_stream_creation_timestamp(kinesis, stream):
    name = stream(2)
    created = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert _ids(kinesis.list_shards(StreamName=name, StreamCreationTimestamp=created)) == [S0, S1]


def test_list_shards_next_token_with_stream_name_is_invalid(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.list_shards, "InvalidArgumentException",
                 "NextToken and StreamName cannot be provided together.",
                 StreamName=name, NextToken="AAAAAAAAAAAA")


def test_list_shards_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.list_shards, "ResourceNotFoundException", not_found_message(name), StreamName=name)


def test_list_shards_max_results_validation(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.list_shards, "ValidationException",
                 "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
                 "Member must have value greater than or equal to 1",
                 StreamName=name, MaxResults=0)
    assert_error(kinesis_nv.list_shards, "ValidationException",
                 "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy constraint: "
                 "Member must have value less than or equal to 10000",
                 StreamName=name, MaxResults=10001)


@pytest.mark.modern
def test_list_shards_paging_with_next_token(kinesis, stream):
    name = stream(3)
    p1 = kinesis.list_shards(StreamName=name, MaxResults=1)
    assert _ids(p1) == [S0]
    p2 = kinesis.list_shards(NextToken=p1["NextToken"], MaxResults=1)
    assert _ids(p2) == [S1]
    p3 = kinesis.list_shards(NextToken=p2["NextToken"], MaxResults=5)
    assert _ids(p3) == [S2]
    assert "NextToken" not in p3


@pytest.fixture
def split_stream(kinesis, stream):
    """A 1-shard stream split once. Returns (name, t_before_split, t_after_split) in epoch
    seconds (floats): S0 was open before, S1 and S2 after."""
    name = stream(1)
    time.sleep(0.05)
    t0 = time.time()
    time.sleep(0.05)
    kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(2**127))
    wait_status(kinesis, name, "ACTIVE")
    time.sleep(0.05)
    t1 = time.time()
    return name, t0, t1


def _filtered(call, name, flt):
    return [s["ShardId"] for s in call("ListShards", {"StreamName": name, "ShardFilter": flt})["Shards"]]


@pytest.mark.modern
def test_shard_filter_latest_and_trim_horizon(call, split_stream):
    name, _, _ = split_stream
    assert _filtered(call, name, {"Type": "AT_LATEST"}) == [S1, S2]
    assert _filtered(call, name, {"Type": "AT_TRIM_HORIZON"}) == [S0]
    assert _filtered(call, name, {"Type": "FROM_TRIM_HORIZON"}) == [S0, S1, S2]


@pytest.mark.modern
def test_shard_filter_after_shard_id(call, split_stream):
    name, _, _ = split_stream
    assert _filtered(call, name, {"Type": "AFTER_SHARD_ID", "ShardId": S0}) == [S1, S2]
    assert _filtered(call, name, {"Type": "AFTER_SHARD_ID", "ShardId": S1}) == [S2]


@pytest.mark.modern
def test_shard_filter_timestamps(call, split_stream):
    # Timestamps go as fractional epoch seconds (what the Java/JS SDKs send): boto3 would
    # truncate them to whole seconds.
    name, t0, t1 = split_stream
    assert _filtered(call, name, {"Type": "AT_TIMESTAMP", "Timestamp": t0}) == [S0]
    assert _filtered(call, name, {"Type": "AT_TIMESTAMP", "Timestamp": t1}) == [S1, S2]
    assert _filtered(call, name, {"Type": "FROM_TIMESTAMP", "Timestamp": t0}) == [S0, S1, S2]
    assert _filtered(call, name, {"Type": "FROM_TIMESTAMP", "Timestamp": t1}) == [S1, S2]


@pytest.mark.modern
def test_shard_filter_via_boto3(kinesis, split_stream):
    name, _, _ = split_stream
    r = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})
    assert _ids(r) == [S1, S2]
    for s in r["Shards"]:
        assert s["ParentShardId"] == S0


@pytest.mark.modern
def test_shard_filter_after_shard_id_needs_shard_id(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.list_shards, "InvalidArgumentException",
                 StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID"})


@pytest.mark.modern
def test_shard_filter_timestamp_type_needs_timestamp(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.list_shards, "InvalidArgumentException",
                 StreamName=name, ShardFilter={"Type": "AT_TIMESTAMP"})
