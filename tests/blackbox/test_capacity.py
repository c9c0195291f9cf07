"""Capacity-mode operations: UpdateMaxRecordSize, account settings, warm throughput, record
distribution, and the capacity-mode refusals (all newer than kinesalite)."""

import pytest

from khelpers import assert_error, stream_arn, validation_parts

pytestmark = pytest.mark.modern

MIB = 1024 * 1024


def summary(kinesis, name):
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def test_update_max_record_size_admits_larger_records(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    assert summary(kinesis, name)["MaxRecordSizeInKiB"] == 1024
    assert_error(kinesis.put_record, "InvalidArgumentException",
                 f"Record size exceeds the maximum allowed record size of 1024 KiB for stream {name}.",
                 StreamName=name, Data=b"x" * MIB, PartitionKey="k")
    r = kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=10240)
    assert set(r) == {"ResponseMetadata"}
    s = summary(kinesis, name)
    assert s["MaxRecordSizeInKiB"] == 10240
    assert s["StreamStatus"] == "ACTIVE"
    # A 10 MiB record (data and key) goes in and comes back whole.
    put = kinesis.put_record(StreamName=name, Data=b"y" * (10 * MIB - 1), PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=put["ShardId"],
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=put["SequenceNumber"])["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=1)["Records"]
    assert len(got) == 1 and len(got[0]["Data"]) == 10 * MIB - 1
    assert_error(kinesis.put_record, "InvalidArgumentException",
                 f"Record size exceeds the maximum allowed record size of 10240 KiB for stream {name}.",
                 StreamName=name, Data=b"y" * (10 * MIB), PartitionKey="k")
    # PutRecords: up to 10 MiB for the whole request with larger records.
    r = kinesis.put_records(StreamName=name, Records=[
        {"Data": b"z" * (3 * MIB - 1), "PartitionKey": "k"} for _ in range(3)])
    assert r["FailedRecordCount"] == 0 and len(r["Records"]) == 3
    assert_error(kinesis.put_records, "InvalidArgumentException", "Records size exceeds 10 MB limit",
                 StreamName=name, Records=[{"Data": b"z" * (5 * MIB), "PartitionKey": "k"},
                                           {"Data": b"z" * MIB, "PartitionKey": "k"},
                                           {"Data": b"z" * (5 * MIB), "PartitionKey": "k"}])


def test_create_stream_with_max_record_size(kinesis, stream):
    name = stream(1, MaxRecordSizeInKiB=2048)
    assert summary(kinesis, name)["MaxRecordSizeInKiB"] == 2048
    kinesis.put_record(StreamName=name, Data=b"x" * (2 * MIB - 1), PartitionKey="k")


def test_update_max_record_size_out_of_range(kinesis_nv, stream):
    name = stream(1)
    for value, bound in [(1023, "greater than or equal to 1024"), (10241, "less than or equal to 10240")]:
        msg = assert_error(kinesis_nv.update_max_record_size, "ValidationException",
                           StreamARN=stream_arn(name), MaxRecordSizeInKiB=value)
        count, parts = validation_parts(msg)
        assert count == 1
        assert parts == [f"Value '{value}' at 'maxRecordSizeInKiB' failed to satisfy constraint: "
                         f"Member must have value {bound}"]


def test_update_max_record_size_needs_an_active_stream(kinesis, stream):
    name = stream(1, wait=False)
    assert_error(kinesis.update_max_record_size, "ResourceInUseException",
                 StreamARN=stream_arn(name), MaxRecordSizeInKiB=2048)


def test_update_max_record_size_missing_stream(kinesis):
    arn = stream_arn("no-such-stream-mrs")
    assert_error(kinesis.update_max_record_size, "ResourceNotFoundException",
                 "Stream no-such-stream-mrs under account 000000000000 not found.",
                 StreamARN=arn, MaxRecordSizeInKiB=2048)


def test_account_settings_billing_commitment(kinesis, kinesis_nv):
    # The session's server is shared: start from a known state (a fresh server is DISABLED with no
    # times; disabling a running commitment within its first 24 hours only schedules the end).
    first = kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"]
    assert first["Status"] in ("DISABLED", "ENABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
    if first["Status"] == "DISABLED":
        assert "EarliestAllowedEndAt" not in first or "EndedAt" in first
    r = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    on = r["MinimumThroughputBillingCommitment"]
    assert on["Status"] == "ENABLED"
    assert "EndedAt" not in on
    assert (on["EarliestAllowedEndAt"] - on["StartedAt"]).total_seconds() == 24 * 3600
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == on
    off = kinesis.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "DISABLED"})["MinimumThroughputBillingCommitment"]
    assert off["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert off["StartedAt"] == on["StartedAt"]
    assert off["EarliestAllowedEndAt"] == on["EarliestAllowedEndAt"]
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == off
    # Enabling again before the earliest end cancels the scheduled end.
    again = kinesis.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    assert again == on
    msg = assert_error(kinesis_nv.update_account_settings, "ValidationException",
                       MinimumThroughputBillingCommitment={"Status": "SOMETIMES"})
    count, parts = validation_parts(msg)
    assert count == 1
    assert parts[0].startswith("Value 'SOMETIMES' at 'minimumThroughputBillingCommitment.status' "
                               "failed to satisfy constraint: Member must satisfy enum value set: [")


def wait_summary(kinesis, name, status="ACTIVE"):
    from khelpers import wait_status
    wait_status(kinesis, name, status)
    return summary(kinesis, name)


def test_update_stream_warm_throughput(kinesis, stream):
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert "WarmThroughput" not in summary(kinesis, name)
    r = kinesis.update_stream_warm_throughput(StreamName=name, WarmThroughputMiBps=100)
    assert r["StreamARN"] == stream_arn(name)
    assert r["StreamName"] == name
    assert r["WarmThroughput"] == {"TargetMiBps": 100}
    s = wait_summary(kinesis, name)
    assert s["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 100}
    r = kinesis.update_stream_warm_throughput(StreamARN=stream_arn(name), WarmThroughputMiBps=40)
    assert r["WarmThroughput"] == {"TargetMiBps": 40, "CurrentMiBps": 100}
    s = wait_summary(kinesis, name)
    assert s["WarmThroughput"] == {"TargetMiBps": 40, "CurrentMiBps": 40}
    assert_error(kinesis.update_stream_warm_throughput, "LimitExceededException",
                 f"Warm throughput 10241 MiBps for stream {name} under account 000000000000 exceeds "
                 "the limit of 10240 MiBps for an on-demand stream.",
                 StreamName=name, WarmThroughputMiBps=10241)


def test_update_stream_warm_throughput_provisioned_is_refused(kinesis, stream):
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    name = stream(1)
    assert_error(kinesis.update_stream_warm_throughput, "ValidationException",
                 f"UpdateStreamWarmThroughput is not supported for stream {name} under account "
                 "000000000000 in PROVISIONED capacity mode. This API is only supported for data "
                 "streams with the on-demand capacity mode.",
                 StreamName=name, WarmThroughputMiBps=10)
    assert "WarmThroughput" not in summary(kinesis, name)


def test_record_distribution_auto_spreads_records(kinesis, stream):
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = stream_arn(name)
    assert summary(kinesis, name)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
    r = kinesis.update_stream_record_distribution_strategy(StreamARN=arn, RecordDistributionStrategy="AUTO")
    assert set(r) == {"ResponseMetadata"}
    s = summary(kinesis, name)
    assert s["RecordDistributionStrategy"] == "AUTO"
    assert s["StreamStatus"] == "ACTIVE"
    placed = {}
    for i in range(8):
        put = kinesis.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="same")
        placed[put["SequenceNumber"]] = (put["ShardId"], f"r{i}".encode())
    out = kinesis.put_records(StreamName=name, Records=[
        {"Data": f"b{i}".encode(), "PartitionKey": "same", "ExplicitHashKey": "0"} for i in range(8)])
    assert out["FailedRecordCount"] == 0
    for i, rec in enumerate(out["Records"]):
        placed[rec["SequenceNumber"]] = (rec["ShardId"], f"b{i}".encode())
    per_shard = {}
    for shard, _ in placed.values():
        per_shard[shard] = per_shard.get(shard, 0) + 1
    assert len(per_shard) == 4 and set(per_shard.values()) == {4}, per_shard
    # Every answer names the shard and sequence number the record is really at.
    for shard in per_shard:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for rec in kinesis.get_records(ShardIterator=it)["Records"]:
            assert placed[rec["SequenceNumber"]] == (shard, rec["Data"])
    some_seq = next(iter(placed))
    assert_error(kinesis.put_record, "InvalidArgumentException", StreamName=name, Data=b"x",
                 PartitionKey="k", SequenceNumberForOrdering=some_seq)


def test_create_stream_with_auto_distribution(kinesis, stream):
    name = stream(None, StreamModeDetails={"StreamMode": "ON_DEMAND"}, RecordDistributionStrategy="AUTO")
    assert summary(kinesis, name)["RecordDistributionStrategy"] == "AUTO"


def test_auto_distribution_refused_on_provisioned(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.update_stream_record_distribution_strategy, "InvalidArgumentException",
                 f"RecordDistributionStrategy AUTO is not supported for stream {name} under account "
                 "000000000000 in PROVISIONED capacity mode. It is only supported for data streams with "
                 "the on-demand capacity mode.",
                 StreamARN=stream_arn(name), RecordDistributionStrategy="AUTO")
    assert summary(kinesis, name)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"


def test_update_stream_mode_twice_a_day_at_most(kinesis, stream):
    from khelpers import wait_status
    name = stream(1)
    arn = stream_arn(name)
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_status(kinesis, name, "ACTIVE")
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    wait_status(kinesis, name, "ACTIVE")
    assert_error(kinesis.update_stream_mode, "LimitExceededException",
                 f"Stream {name} under account 000000000000 has already switched its capacity mode 2 "
                 "times in the last 24 hours, the most allowed.",
                 StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = summary(kinesis, name)
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["StreamStatus"] == "ACTIVE"
