"""Resource policies (PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy) through boto3:
stored per stream, returned as given, `{"Policy": "{}"}` when none is set (as AWS answers), gone
with their stream. Enforcing them is not tested here: Rheo stores policies, it does not apply them."""

import json

from khelpers import ACCOUNT, assert_error, not_found_message, stream_arn, unique_name, wait_gone

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "cross-account-read",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": ["kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator"],
        "Resource": "*",
    }],
})


def test_no_policy_reads_as_an_empty_document(kinesis, stream):
    arn = stream_arn(stream(1))
    r = kinesis.get_resource_policy(ResourceARN=arn)
    assert r["Policy"] == "{}"


def test_put_get_replace_delete(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    r = kinesis.put_resource_policy(ResourceARN=arn, Policy=POLICY)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY
    replaced = json.dumps({"Version": "2012-10-17", "Statement": []})
    kinesis.put_resource_policy(ResourceARN=arn, Policy=replaced)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == replaced
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    # Deleting when there is none succeeds.
    kinesis.delete_resource_policy(ResourceARN=arn)


def test_policies_are_per_stream(kinesis, stream):
    a, b = stream_arn(stream(1)), stream_arn(stream(1))
    kinesis.put_resource_policy(ResourceARN=a, Policy=POLICY)
    assert kinesis.get_resource_policy(ResourceARN=b)["Policy"] == "{}"
    assert kinesis.get_resource_policy(ResourceARN=a)["Policy"] == POLICY


def test_invalid_policies_are_refused(kinesis, stream):
    arn = stream_arn(stream(1))
    for bad in ["not json", "[]", '"a string"', "{"]:
        assert_error(kinesis.put_resource_policy, "InvalidArgumentException", ResourceARN=arn, Policy=bad)
    too_big = json.dumps({"Version": "2012-10-17", "Sid": "x" * (20 * 1024)})
    msg = assert_error(kinesis.put_resource_policy, "InvalidArgumentException", ResourceARN=arn, Policy=too_big)
    assert "20480" in msg, msg
    # Nothing was stored by the refused calls.
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


def test_missing_resources_are_not_found(kinesis, stream):
    name = unique_name()
    for call, extra in [
        (kinesis.put_resource_policy, {"Policy": POLICY}),
        (kinesis.get_resource_policy, {}),
        (kinesis.delete_resource_policy, {}),
    ]:
        assert_error(call, "ResourceNotFoundException", not_found_message(name),
                     ResourceARN=stream_arn(name), **extra)
    consumer = stream_arn(stream(1)) + "/consumer/c:1700000000"
    msg = assert_error(kinesis.get_resource_policy, "ResourceNotFoundException", ResourceARN=consumer)
    assert consumer in msg and ACCOUNT in msg, msg


def test_policy_goes_with_its_stream(kinesis):
    name = unique_name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    arn = stream_arn(name)
    kinesis.put_resource_policy(ResourceARN=arn, Policy=POLICY)
    kinesis.delete_stream(StreamName=name)
    wait_gone(kinesis, name)
    assert_error(kinesis.get_resource_policy, "ResourceNotFoundException", ResourceARN=arn)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    try:
        assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    finally:
        kinesis.delete_stream(StreamName=name)
