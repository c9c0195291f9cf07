"""Fault injection (issue 13, item 5): rules added at run time through `/_rheo/faults` and the
`rheo faults` subcommand make matching requests fail, wait or partly fail, so that clients'
retry code can be tested. Injected failures write nothing.

Rules go to the session's server; every test scopes its rules to its own stream and clears
them at teardown, so the other suites never meet them.
"""

import json
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, make_client, faults_admin as _admin
from khelpers import read_all, stream_arn

pytestmark = pytest.mark.modern

def _retrying(endpoint, attempts, mode="standard"):
    return make_client(endpoint, retries={"mode": mode, "max_attempts": attempts})


def _records(kinesis, name):
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return read_all(kinesis, it)[0]


def _fired(endpoint):
    status, answer = _admin(endpoint, "GET")
    assert status == 200
    return [r["fired"] for r in answer["faults"]]


@pytest.mark.parametrize("mode", ["legacy", "standard", "adaptive"])
def test_throttling_is_retried_by_each_retry_mode_and_the_record_written_once(
    endpoint, kinesis, stream, faults, mode
):
    name = stream(1)
    faults(operation="PutRecord", stream=name, error="ProvisionedThroughputExceededException", count=2)
    out = _retrying(endpoint, 5, mode).put_record(StreamName=name, Data=b"once", PartitionKey="k")
    assert out["ShardId"] == "shardId-000000000000"
    assert _fired(endpoint) == [2]
    records = _records(kinesis, name)
    assert [r["Data"] for r in records] == [b"once"]
    assert records[0]["SequenceNumber"] == out["SequenceNumber"]

    # botocore's `max_attempts` counts retries: 1 is one try and one retry, both refused here.
    faults(operation="PutRecord", stream=name, error="ProvisionedThroughputExceededException", count=2)
    with pytest.raises(ClientError) as e:
        _retrying(endpoint, 1, mode).put_record(StreamName=name, Data=b"never", PartitionKey="k")
    assert _fired(endpoint) == [2, 2]
    assert e.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [r["Data"] for r in _records(kinesis, name)] == [b"once"], "the refused put wrote nothing"


def test_service_unavailable_is_retried(endpoint, kinesis, stream, faults):
    name = stream(1)
    faults(operation="PutRecord", stream=name, error="ServiceUnavailable", count=2)
    _retrying(endpoint, 5).put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert _fired(endpoint) == [2]
    assert [r["Data"] for r in _records(kinesis, name)] == [b"x"]

    faults(operation="DescribeStreamSummary", stream=name, error="ServiceUnavailable", count=2)
    with pytest.raises(ClientError) as e:
        _retrying(endpoint, 1).describe_stream_summary(StreamName=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["Error"]["Code"] == "ServiceUnavailable"


def test_partial_put_records_fails_some_records_and_writes_only_the_rest(kinesis, stream, faults):
    name = stream(1)
    faults(operation="PutRecords", stream=name, partial_fraction=0.5, partial_error="InternalFailure")
    out = kinesis.put_records(
        StreamName=name,
        Records=[{"Data": f"r{i}".encode(), "PartitionKey": "k"} for i in range(4)],
    )
    assert out["FailedRecordCount"] == 2
    failed = [i for i, r in enumerate(out["Records"]) if "ErrorCode" in r]
    assert failed == [1, 3]
    assert all(out["Records"][i]["ErrorCode"] == "InternalFailure" for i in failed)
    ok = [r["SequenceNumber"] for r in out["Records"] if "SequenceNumber" in r]
    records = _records(kinesis, name)
    assert [r["Data"] for r in records] == [b"r0", b"r2"]
    assert [r["SequenceNumber"] for r in records] == ok


def test_a_partial_rule_for_another_stream_leaves_this_one_alone(kinesis, stream, faults):
    name = stream(1)
    faults(operation="PutRecords", stream=name + "-other", partial_fraction=1.0)
    out = kinesis.put_records(StreamName=name, Records=[{"Data": b"a", "PartitionKey": "k"}])
    assert out["FailedRecordCount"] == 0


def test_a_partial_rule_for_a_shard_fails_only_its_records(kinesis, stream, faults):
    name = stream(2)
    faults(operation="PutRecords", stream=name, shard_id="shardId-000000000001", partial_fraction=1.0)
    out = kinesis.put_records(
        StreamName=name,
        Records=[
            {"Data": b"low", "PartitionKey": "k", "ExplicitHashKey": "0"},
            {"Data": b"high", "PartitionKey": "k", "ExplicitHashKey": str(2**128 - 1)},
        ],
    )
    assert out["FailedRecordCount"] == 1
    assert out["Records"][0]["ShardId"] == "shardId-000000000000"
    assert out["Records"][1]["ErrorCode"] == "ProvisionedThroughputExceededException"
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert read_all(kinesis, it)[0] == [], "the failed record was not written"


def test_subscribe_to_shard_faults_match_the_consumers_stream_and_shard(
    endpoint, kinesis, stream, faults
):
    name = stream(2)
    c = kinesis.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName="app")["Consumer"]
    deadline = time.time() + 10
    while kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.05)
    faults(operation="SubscribeToShard", stream=name, shard_id="shardId-000000000001",
           error="InternalFailure", count=2)
    client = _retrying(endpoint, 1)

    def subscribe(shard):
        return client.subscribe_to_shard(
            ConsumerARN=c["ConsumerARN"], ShardId=shard, StartingPosition={"Type": "LATEST"}
        )

    with pytest.raises(ClientError) as e:
        subscribe("shardId-000000000001")
    assert e.value.response["Error"]["Code"] == "InternalFailure"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert _fired(endpoint) == [2]
    # The other shard is not hit; its session is started and closed at once.
    subscribe("shardId-000000000000")["EventStream"].close()


def test_latency_delays_the_answer(kinesis, stream, faults):
    name = stream(1)
    faults(operation="ListShards", stream=name, latency_ms=600, count=1)
    started = time.monotonic()
    kinesis.list_shards(StreamName=name)
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    kinesis.list_shards(StreamName=name)
    assert time.monotonic() - started < 0.6, "count 1: the second call is not delayed"


def test_shard_rules_match_only_their_shard(kinesis, stream, faults):
    name = stream(2)
    faults(
        operation="GetShardIterator", stream=name, shard_id="shardId-000000000001",
        error="KMSThrottlingException",
    )
    kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="LATEST"
        )
    assert e.value.response["Error"]["Code"] == "KMSThrottlingException"


def test_admin_endpoint_adds_lists_refuses_and_clears(endpoint, kinesis, faults):
    faults(operation="ListStreams", latency_ms=1, probability=0.5)
    status, answer = _admin(endpoint, "GET")
    assert status == 200
    assert answer["faults"] == [
        {"operation": "ListStreams", "latency-ms": 1, "probability": 0.5, "fired": 0}
    ]
    status, answer = _admin(endpoint, "POST", {"operation": "ListStreams", "error": "NoSuchError"})
    assert status == 400 and "status" in answer["message"]
    status, answer = _admin(endpoint, "POST", {"operation": "Nope", "latency-ms": 1})
    assert status == 400 and "unknown operation" in answer["message"]
    assert len(_admin(endpoint, "GET")[1]["faults"]) == 1, "a refused rule adds nothing"
    assert _admin(endpoint, "PUT")[0] == 405
    status, answer = _admin(endpoint, "DELETE")
    assert (status, answer) == (200, {"cleared": 1})
    assert _admin(endpoint, "GET")[1] == {"faults": []}
    kinesis.list_streams()


def test_rheo_faults_cli_adds_lists_and_clears(endpoint, kinesis, stream):
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    if os.environ.get("RHEO_ENDPOINT") or not os.path.exists(binary):
        pytest.skip("needs the rheo binary of the server under test")
    name = stream(1)

    def cli(*args):
        return subprocess.run(
            [binary, "faults", "--endpoint", endpoint, *args],
            capture_output=True, text=True, timeout=30,
        )

    try:
        added = cli("add", "--operation", "DescribeStreamSummary", "--stream", name,
                    "--error", "LimitExceededException", "--count", "2")
        assert added.returncode == 0, added.stderr
        listed = cli("list")
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)["faults"] == [{
            "operation": "DescribeStreamSummary", "stream": name,
            "error": "LimitExceededException", "count": 2, "fired": 0,
        }]
        with pytest.raises(ClientError) as e:
            _retrying(endpoint, 1).describe_stream_summary(StreamName=name)
        assert e.value.response["Error"]["Code"] == "LimitExceededException"
        assert json.loads(cli("list").stdout)["faults"][0]["fired"] == 2
        kinesis.describe_stream_summary(StreamName=name)
        bad = cli("add", "--operation", "PutRecord", "--latency-ms", "1", "--probability", "2")
        assert bad.returncode != 0 and "between 0 and 1" in bad.stdout
    finally:
        cleared = cli("clear")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cli("list").stdout) == {"faults": []}
