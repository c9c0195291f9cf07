"""Enhanced fan-out consumers through boto3: RegisterStreamConsumer, DescribeStreamConsumer,
ListStreamConsumers, DeregisterStreamConsumer, consumer tags, ConsumerCount, and DeleteStream's
EnforceConsumerDeletion."""

import time

import pytest

from khelpers import assert_error, stream_arn


def _wait_consumer(kinesis, arn, status, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        got = kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        if got["ConsumerStatus"] == status:
            return got
        assert time.time() < deadline, f"consumer {arn} still {got['ConsumerStatus']}"
        time.sleep(0.05)


def test_register_describe_list_deregister(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert c["ConsumerName"] == "app"
    assert c["ConsumerStatus"] == "CREATING"
    assert c["ConsumerARN"].startswith(f"{arn}/consumer/app:")
    assert int(c["ConsumerARN"].rsplit(":", 1)[1]) == int(c["ConsumerCreationTimestamp"].timestamp())
    assert_error(kinesis.register_stream_consumer, "ResourceInUseException",
                 StreamARN=arn, ConsumerName="app")

    d = _wait_consumer(kinesis, c["ConsumerARN"], "ACTIVE")
    assert d["StreamARN"] == arn and d["ConsumerName"] == "app"
    by_name = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app")["ConsumerDescription"]
    assert by_name == d
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 1

    listed = kinesis.list_stream_consumers(StreamARN=arn)
    assert [x["ConsumerARN"] for x in listed["Consumers"]] == [c["ConsumerARN"]]
    assert "NextToken" not in listed

    kinesis.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])
    deadline = time.time() + 10
    while kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]:
        assert time.time() < deadline, "consumer never went"
        time.sleep(0.05)
    assert_error(kinesis.describe_stream_consumer, "ResourceNotFoundException",
                 ConsumerARN=c["ConsumerARN"])


def test_list_pages_and_consumer_tags(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    arns = []
    for i in range(4):
        c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}",
                                             Tags={"n": str(i)})["Consumer"]
        arns.append(c["ConsumerARN"])
    names, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=3, **kw)
        names += [x["ConsumerName"] for x in page["Consumers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["c0", "c1", "c2", "c3"]

    tags = kinesis.list_tags_for_resource(ResourceARN=arns[2])["Tags"]
    assert tags == [{"Key": "n", "Value": "2"}]
    kinesis.tag_resource(ResourceARN=arns[2], Tags={"env": "test"})
    kinesis.untag_resource(ResourceARN=arns[2], TagKeys=["n"])
    assert kinesis.list_tags_for_resource(ResourceARN=arns[2])["Tags"] == [{"Key": "env", "Value": "test"}]
    # The stream's own tags are untouched.
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_delete_stream_with_consumers_needs_enforce(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="keep")
    message = assert_error(kinesis.delete_stream, "ResourceInUseException", StreamName=name)
    assert message == (
        f"DeleteStream can't delete {arn} because there are consumers associated with this data "
        f"stream. To delete {name} anyway, set the EnforceConsumerDeletion parameter to true to "
        "force the deletion of all the consumers that are associated with it."
    )
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@pytest.mark.parametrize("kw", [
    {"ConsumerName": "x"},
    {"ConsumerARN": "arn:aws:kinesis:us-east-1:000000000000:stream/nope/consumer/c:1"},
])
def test_unknown_consumer_or_stream(kinesis, kw):
    if "ConsumerName" in kw:
        kw = {**kw, "StreamARN": stream_arn("no-such-stream-here")}
    assert_error(kinesis.describe_stream_consumer, "ResourceNotFoundException", **kw)


def test_a_consumer_has_its_own_resource_policy(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="pol")["Consumer"]
    assert kinesis.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == "{}"
    policy = '{"Version":"2012-10-17","Statement":[]}'
    kinesis.put_resource_policy(ResourceARN=c["ConsumerARN"], Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == policy
    # The stream's own policy is another one.
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    kinesis.delete_resource_policy(ResourceARN=c["ConsumerARN"])
    assert kinesis.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == "{}"
