"""The AWS CLI, unmodified, end to end against the server."""

import base64
import json

from khelpers import unique_name


def _create_and_describe(aws_cli, name, *args):
    """create-stream with `args`, wait until it exists, and its describe-stream-summary."""
    rc, out = aws_cli("create-stream", "--stream-name", name, *args)
    assert rc == 0, out
    rc, out = aws_cli("wait", "stream-exists", "--stream-name", name)
    assert rc == 0, out
    rc, out = aws_cli("describe-stream-summary", "--stream-name", name)
    assert rc == 0, out
    return out["StreamDescriptionSummary"]


def test_cli_end_to_end(aws_cli):
    name = unique_name("cli")
    summary = _create_and_describe(aws_cli, name, "--shard-count", "2")
    try:
        assert summary["StreamName"] == name
        assert summary["StreamStatus"] == "ACTIVE"
        assert summary["OpenShardCount"] == 2
        assert summary["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"

        rc, out = aws_cli("put-record", "--stream-name", name, "--partition-key", "pk-1",
                          "--data", "hello-cli", "--explicit-hash-key", "0")
        assert rc == 0, out
        assert out["ShardId"] == "shardId-000000000000"
        seq = out["SequenceNumber"]

        rc, out = aws_cli("get-shard-iterator", "--stream-name", name, "--shard-id", "shardId-000000000000",
                          "--shard-iterator-type", "TRIM_HORIZON")
        assert rc == 0, out
        it = out["ShardIterator"]
        rc, out = aws_cli("get-records", "--shard-iterator", it)
        assert rc == 0, out
        assert len(out["Records"]) == 1
        rec = out["Records"][0]
        # AWS CLI v1 sends the --data text as-is; the JSON output shows blobs base64-encoded.
        assert base64.b64decode(rec["Data"]) == b"hello-cli"
        assert rec["PartitionKey"] == "pk-1"
        assert rec["SequenceNumber"] == seq
        assert "NextShardIterator" in out

        rc, out = aws_cli("list-streams")
        assert rc == 0, out
        assert name in out["StreamNames"]
    finally:
        rc, out = aws_cli("delete-stream", "--stream-name", name)
    assert rc == 0, out
    rc, out = aws_cli("wait", "stream-not-exists", "--stream-name", name)
    assert rc == 0, out
    rc, out = aws_cli("list-streams")
    assert rc == 0 and name not in out["StreamNames"]


def test_cli_error_is_reported(aws_cli):
    name = unique_name("cli")
    rc, err = aws_cli("describe-stream-summary", "--stream-name", name)
    assert rc != 0
    assert "ResourceNotFoundException" in err
    assert f"Stream {name} under account 000000000000 not found." in err


def test_cli_empty_answers_and_resource_policy(aws_cli):
    # Operations without output members answer an empty body: the CLI prints nothing and exits 0.
    name = unique_name("cli")
    rc, out = aws_cli("create-stream", "--stream-name", name, "--shard-count", "1")
    assert rc == 0 and out is None, out
    arn = f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"
    try:
        rc, out = aws_cli("wait", "stream-exists", "--stream-name", name)
        assert rc == 0, out
        rc, out = aws_cli("add-tags-to-stream", "--stream-name", name, "--tags", "k=v")
        assert rc == 0 and out is None, out
        rc, out = aws_cli("get-resource-policy", "--resource-arn", arn)
        assert rc == 0 and out == {"Policy": "{}"}, out
        policy = '{"Version":"2012-10-17","Statement":[]}'
        rc, out = aws_cli("put-resource-policy", "--resource-arn", arn, "--policy", policy)
        assert rc == 0 and out is None, out
        rc, out = aws_cli("get-resource-policy", "--resource-arn", arn)
        assert rc == 0 and out == {"Policy": policy}, out
    finally:
        rc, out = aws_cli("delete-stream", "--stream-name", name)
        assert rc == 0 and out is None, out


def test_cli_bare_create_stream_and_quoted_iterator(aws_cli):
    # `aws kinesis create-stream --stream-name s` makes an on-demand stream of 4 shards on AWS, and
    # `IT=$(aws kinesis get-shard-iterator ... --query ShardIterator)` keeps the JSON quotes,
    # which AWS accepts in get-records.
    name = unique_name("cli")
    summary = _create_and_describe(aws_cli, name)
    try:
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert summary["OpenShardCount"] == 4
        rc, out = aws_cli("put-record", "--stream-name", name, "--partition-key", "pk",
                          "--data", "quoted", "--explicit-hash-key", "0")
        assert rc == 0, out
        rc, it = aws_cli("get-shard-iterator", "--stream-name", name, "--shard-id", "shardId-000000000000",
                         "--shard-iterator-type", "TRIM_HORIZON", "--query", "ShardIterator")
        assert rc == 0, it
        quoted = json.dumps(it)
        assert quoted.startswith('"') and quoted.endswith('"')
        rc, out = aws_cli("get-records", "--shard-iterator", quoted)
        assert rc == 0, out
        assert [base64.b64decode(r["Data"]) for r in out["Records"]] == [b"quoted"]
    finally:
        rc, out = aws_cli("delete-stream", "--stream-name", name)
    assert rc == 0, out
