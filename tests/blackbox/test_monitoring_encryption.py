"""Enhanced monitoring and server-side encryption settings, with boto3 (modern: not in kinesalite)."""

import pytest

from khelpers import wait_status

ALL_METRICS = [
    "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
    "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]


@pytest.mark.modern
def test_enable_and_disable_enhanced_monitoring(kinesis, stream):
    name = stream(1)
    r = kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
    assert r["CurrentShardLevelMetrics"] == []
    assert r["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    r = kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert sorted(r["DesiredShardLevelMetrics"]) == sorted(ALL_METRICS)
    d = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert sorted(d["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)
    r = kinesis.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert r["DesiredShardLevelMetrics"] == []


@pytest.mark.modern
def test_stream_encryption_marks_records(kinesis, stream):
    name = stream(1)
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    d = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert (d["EncryptionType"], d["KeyId"]) == ("KMS", "alias/aws/kinesis")
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"secret")
    assert put["EncryptionType"] == "KMS"
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=put["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    rec = kinesis.get_records(ShardIterator=it)["Records"][0]
    assert (rec["Data"], rec["EncryptionType"]) == (b"secret", "KMS")
    # StartStreamEncryption moved the stream to UPDATING: the next change waits for ACTIVE.
    wait_status(kinesis, name, "ACTIVE")
    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    d = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert d["EncryptionType"] == "NONE"
    assert kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")["EncryptionType"] == "NONE"
