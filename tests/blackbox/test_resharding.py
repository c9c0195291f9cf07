"""SplitShard, MergeShards and UpdateShardCount: lineage, hash ranges, status changes and
errors."""

import pytest

from khelpers import (
    ACCOUNT, MAX_HASH_KEY, all_shards, assert_error, open_shards, stream_arn, wait_status,
)

S0, S1, S2, S3 = (f"shardId-{i:012d}" for i in range(4))


def _by_id(shards):
    return {s["ShardId"]: s for s in shards}


def _range(s):
    return int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])


def _assert_covers_hash_space(shards):
    ranges = sorted(_range(s) for s in shards)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert start == end + 1


def test_split_shard(kinesis, stream):
    name = stream(1)
    mid = 2**127
    r = kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(mid))
    assert set(r) == {"ResponseMetadata"}
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "UPDATING"
    wait_status(kinesis, name, "ACTIVE")
    shards = _by_id(all_shards(kinesis, name))
    assert sorted(shards) == [S0, S1, S2]
    parent = shards[S0]
    assert parent["SequenceNumberRange"]["EndingSequenceNumber"].isdigit()
    assert _range(shards[S1]) == (0, mid - 1)
    assert _range(shards[S2]) == (mid, MAX_HASH_KEY)
    for child in (S1, S2):
        assert shards[child]["ParentShardId"] == S0
        assert "AdjacentParentShardId" not in shards[child]
        assert "EndingSequenceNumber" not in shards[child]["SequenceNumberRange"]
        assert int(shards[child]["SequenceNumberRange"]["StartingSequenceNumber"]) > \
            int(parent["SequenceNumberRange"]["StartingSequenceNumber"])
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    # New writes land in the children.
    assert kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey="0")["ShardId"] == S1
    assert kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p",
                              ExplicitHashKey=str(mid))["ShardId"] == S2


def test_split_while_updating_is_resource_in_use(kinesis, stream):
    name = stream(2)
    kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey="1000")
    assert_error(kinesis.split_shard, "ResourceInUseException",
                 f"Stream {name} under account {ACCOUNT} not ACTIVE, instead in state UPDATING",
                 StreamName=name, ShardToSplit=S1, NewStartingHashKey=str(2**127 + 1000))


def test_split_with_hash_key_outside_shard(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.split_shard, "InvalidArgumentException",
                 f"NewStartingHashKey 1 used in SplitShard() on shard {S0} in stream {name} under account "
                 f"{ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the "
                 f"shard's EndingHashKey {MAX_HASH_KEY}.",
                 StreamName=name, ShardToSplit=S0, NewStartingHashKey="1")


def test_split_unknown_shard(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.split_shard, "ResourceNotFoundException",
                 f"Could not find shard shardId-000000000009 in stream {name} under account {ACCOUNT}.",
                 StreamName=name, ShardToSplit="shardId-000000000009", NewStartingHashKey="12345")


def test_split_hash_key_pattern(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.split_shard, "ValidationException",
                 "1 validation error detected: Value 'middle' at 'newStartingHashKey' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$",
                 StreamName=name, ShardToSplit=S0, NewStartingHashKey="middle")


def test_merge_adjacent_shards(kinesis, stream):
    name = stream(2)
    r = kinesis.merge_shards(StreamName=name, ShardToMerge=S0, AdjacentShardToMerge=S1)
    assert set(r) == {"ResponseMetadata"}
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "UPDATING"
    wait_status(kinesis, name, "ACTIVE")
    shards = _by_id(all_shards(kinesis, name))
    assert sorted(shards) == [S0, S1, S2]
    for parent in (S0, S1):
        assert shards[parent]["SequenceNumberRange"]["EndingSequenceNumber"].isdigit()
    child = shards[S2]
    assert child["ParentShardId"] == S0
    assert child["AdjacentParentShardId"] == S1
    assert _range(child) == (0, MAX_HASH_KEY)
    assert [s["ShardId"] for s in open_shards(kinesis, name)] == [S2]
    assert kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="any")["ShardId"] == S2


def test_merge_non_adjacent_shards_is_invalid(kinesis, stream):
    name = stream(3)
    assert_error(kinesis.merge_shards, "InvalidArgumentException",
                 f"Shards {S0} and {S2} in stream {name} under account {ACCOUNT} are not an adjacent pair of "
                 "shards eligible for merging",
                 StreamName=name, ShardToMerge=S0, AdjacentShardToMerge=S2)


def test_merge_unknown_shard(kinesis, stream):
    name = stream(2)
    assert_error(kinesis.merge_shards, "ResourceNotFoundException",
                 f"Could not find shard shardId-000000000007 in stream {name} under account {ACCOUNT}.",
                 StreamName=name, ShardToMerge=S0, AdjacentShardToMerge="shardId-000000000007")


@pytest.mark.modern
@pytest.mark.parametrize("start,target", [(2, 4), (4, 2), (1, 2), (3, 5)])
def test_update_shard_count_uniform_scaling(kinesis, stream, start, target):
    name = stream(start)
    before = {s["ShardId"] for s in all_shards(kinesis, name)}
    r = kinesis.update_shard_count(StreamName=name, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
    assert r["StreamName"] == name
    assert r["CurrentShardCount"] == start
    assert r["TargetShardCount"] == target
    assert r["StreamARN"] == stream_arn(name)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
    wait_status(kinesis, name, "ACTIVE")
    opened = open_shards(kinesis, name)
    assert len(opened) == target
    _assert_covers_hash_space(opened)
    shards = _by_id(all_shards(kinesis, name))
    for s in opened:
        assert s["ShardId"] not in before
        # Lineage: every new shard descends from shards that existed (possibly via
        # intermediate shards created by the same scaling operation).
        seen, todo = set(), [s["ShardId"]]
        while todo:
            cur = shards[todo.pop()]
            for key in ("ParentShardId", "AdjacentParentShardId"):
                if key in cur and cur[key] not in seen:
                    seen.add(cur[key])
                    todo.append(cur[key])
        assert seen & before, f"{s['ShardId']} has no ancestor among {before}"
    for old in before:
        assert "EndingSequenceNumber" in shards[old]["SequenceNumberRange"]
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == target


@pytest.mark.modern
def test_update_shard_count_bad_scaling_type(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.update_shard_count, "ValidationException",
                 "1 validation error detected: Value 'RANDOM' at 'scalingType' failed to satisfy constraint: "
                 "Member must satisfy enum value set: [UNIFORM_SCALING]",
                 StreamName=name, TargetShardCount=2, ScalingType="RANDOM")


@pytest.mark.modern
def test_update_shard_count_by_arn(kinesis, stream):
    name = stream(1)
    r = kinesis.update_shard_count(StreamARN=stream_arn(name), TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert r["TargetShardCount"] == 2
    wait_status(kinesis, name, "ACTIVE")
    assert len(open_shards(kinesis, name)) == 2


@pytest.mark.modern
def test_update_shard_count_on_demand_is_refused(kinesis, stream):
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert_error(kinesis.update_shard_count, "ValidationException",
                 f"UpdateShardCount is not supported for stream {name} under account {ACCOUNT} in ON_DEMAND "
                 "capacity mode. This API is only supported for data streams with the provisioned capacity mode.",
                 StreamName=name, TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 4


@pytest.mark.modern
def test_split_and_merge_on_demand_are_refused(kinesis, stream):
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    shards = open_shards(kinesis, name)
    first, second = shards[0], shards[1]
    middle = (int(first["HashKeyRange"]["StartingHashKey"]) + int(first["HashKeyRange"]["EndingHashKey"])) // 2
    for op, call, kwargs in [
        ("SplitShard", kinesis.split_shard,
         dict(ShardToSplit=first["ShardId"], NewStartingHashKey=str(middle))),
        ("MergeShards", kinesis.merge_shards,
         dict(ShardToMerge=first["ShardId"], AdjacentShardToMerge=second["ShardId"])),
    ]:
        assert_error(call, "ValidationException",
                     f"{op} is not supported for stream {name} under account {ACCOUNT} in ON_DEMAND "
                     "capacity mode. This API is only supported for data streams with the provisioned capacity mode.",
                     StreamName=name, **kwargs)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 4


@pytest.mark.modern
@pytest.mark.parametrize("start,target,total", [
    (4, 5, 15), (10, 13, 37), (5, 3, 7), (4, 3, 11), (2, 4, 6), (4, 2, 6),
])
def test_update_shard_count_total_shards_match_aws(kinesis, stream, start, target, total):
    """AWS reshards through short-lived intermediate shards; the totals are AWS's."""
    name = stream(start)
    kinesis.update_shard_count(StreamName=name, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
    wait_status(kinesis, name, "ACTIVE")
    shards = all_shards(kinesis, name)
    assert len(shards) == total
    opened = open_shards(kinesis, name)
    assert len(opened) == target
    _assert_covers_hash_space(opened)
    by_id = _by_id(shards)
    for s in shards:
        # Every parent named exists, and a merge's two parents are adjacent, lower first.
        parent = s.get("ParentShardId")
        if parent is None:
            continue
        assert parent in by_id
        adjacent = s.get("AdjacentParentShardId")
        if adjacent is not None:
            assert _range(by_id[parent])[1] + 1 == _range(by_id[adjacent])[0]
            assert _range(s) == (_range(by_id[parent])[0], _range(by_id[adjacent])[1])
        assert "EndingSequenceNumber" in by_id[parent]["SequenceNumberRange"]


@pytest.mark.modern
def test_update_shard_count_four_to_three_lineage(kinesis, stream):
    # The lineage AWS gives (posted from a real stream): split 1 into 4 and 5, merge 0 and 4
    # into 6, split 2 into 7 and 8, merge 5 and 7 into 9, merge 8 and 3 into 10.
    name = stream(4)
    kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    wait_status(kinesis, name, "ACTIVE")
    by_id = _by_id(all_shards(kinesis, name))
    sid = lambda i: f"shardId-{i:012d}"  # noqa: E731
    lineage = {i: (by_id[sid(i)].get("ParentShardId"), by_id[sid(i)].get("AdjacentParentShardId"))
               for i in range(4, 11)}
    assert lineage == {
        4: (sid(1), None), 5: (sid(1), None), 6: (sid(0), sid(4)), 7: (sid(2), None),
        8: (sid(2), None), 9: (sid(5), sid(7)), 10: (sid(8), sid(3)),
    }
    assert sorted(s["ShardId"] for s in open_shards(kinesis, name)) == [sid(6), sid(9), sid(10)]
    third = (MAX_HASH_KEY + 1) // 3
    for s, k in zip(sorted(open_shards(kinesis, name), key=lambda s: _range(s)[0]), range(3)):
        assert abs(_range(s)[0] - k * third) < 16
