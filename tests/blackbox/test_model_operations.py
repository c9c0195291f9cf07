"""Operations and members of the current model that Rheo does not run yet are still known: boto3
calls to the channel operations are validated, then
answered with a typed error naming the operation (not a bare UnknownOperationException, which is
what a target missing from the model gets). DryRun runs nothing; DescribeLimits counts channels."""

from khelpers import assert_error, stream_arn, unique_name

CHANNEL = "arn:aws:kinesis:us-east-1:000000000000:channel/c"


def _not_implemented(call, name, **kwargs):
    msg = assert_error(call, "UnknownOperationException", **kwargs)
    assert msg and name in msg, msg


def test_channel_operations_are_known(kinesis, stream):
    arn = stream_arn(stream(1))
    _not_implemented(kinesis.create_channel, "CreateChannel",
                     ChannelName=unique_name("c"),
                     ServiceExecutionRoleARN="arn:aws:iam::000000000000:role/r",
                     StreamConfigurationList=[{"StreamARN": arn, "RecordConfiguration": {"RecordFormatType": "JSON"}}])
    _not_implemented(kinesis.describe_channel, "DescribeChannel", ChannelARN=CHANNEL)
    _not_implemented(kinesis.list_channels, "ListChannels")
    _not_implemented(kinesis.update_channel, "UpdateChannel", ChannelARN=CHANNEL)
    _not_implemented(kinesis.delete_channel, "DeleteChannel", ChannelARN=CHANNEL)


# UpdateStreamRecordDistributionStrategy runs now: test_capacity.py covers it.


def test_unimplemented_operations_validate_their_input(kinesis_nv, stream):
    # A malformed request is refused for what is wrong with it, as AWS would, not as unimplemented.
    msg = assert_error(kinesis_nv.describe_channel, "ValidationException", ChannelARN=stream_arn("s"))
    assert "channelARN" in msg, msg
    msg = assert_error(kinesis_nv.update_stream_record_distribution_strategy, "ValidationException",
                       StreamARN=stream_arn(stream(1)), RecordDistributionStrategy="RANDOM")
    assert "[AUTO, USER_PARTITION_KEY]" in msg, msg


def test_a_target_missing_from_the_model_is_still_unknown(raw_post):
    r = raw_post("CreateWormhole", b"{}")
    assert r.status == 400 and r.error_type == "UnknownOperationException" and not r.message, r.body


def test_describe_limits_counts_channels(kinesis):
    limits = kinesis.describe_limits()
    assert limits["ChannelCount"] == 0


def test_dry_run_writes_nothing(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.put_record, "DryRunOperationException",
                 StreamName=name, Data=b"x", PartitionKey="k", DryRun=True)
    assert_error(kinesis.put_records, "DryRunOperationException",
                 StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}], DryRun=True)
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert_error(kinesis.get_records, "DryRunOperationException", ShardIterator=it, DryRun=True)
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_partition_key_is_still_required(kinesis_nv, stream):
    name = stream(1)
    msg = assert_error(kinesis_nv.put_record, "ValidationException", StreamName=name, Data=b"x")
    assert msg == ("1 validation error detected: Value null at 'partitionKey' failed to satisfy "
                   "constraint: Member must not be null"), msg
