"""Plain helpers shared by the black-box test modules (no fixtures here)."""

import base64
import hashlib
import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
MAX_HASH_KEY = 2**128 - 1


def unique_name(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stream_arn(name):
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def not_found_message(name):
    return f"Stream {name} under account {ACCOUNT} not found."


def wait_status(kinesis, name, status="ACTIVE", timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"]
        except ClientError as e:
            # A server with AWS's limits on allows 10 DescribeStream a second: wait as a client would.
            if e.response["Error"]["Code"] != "LimitExceededException":
                raise
            time.sleep(0.2)
            continue
        if last == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"stream {name} stayed {last}, expected {status}")


def wait_gone(kinesis, name, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kinesis.describe_stream(StreamName=name)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            if e.response["Error"]["Code"] == "LimitExceededException":
                time.sleep(0.2)
                continue
            raise
        time.sleep(0.02)
    raise AssertionError(f"stream {name} still exists after {timeout}s")


def error_of(call, *args, **kwargs):
    """Run a boto3 call that must fail; return (code, message, http status)."""
    with pytest.raises(ClientError) as ei:
        call(*args, **kwargs)
    err = ei.value.response["Error"]
    return err.get("Code"), err.get("Message"), ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def assert_error(call, code, message=None, **kwargs):
    got_code, got_msg, status = error_of(call, **kwargs)
    assert got_code == code, f"expected {code}, got {got_code}: {got_msg}"
    assert status == 400, f"{code} should be HTTP 400, got {status}"
    if message is not None:
        assert got_msg == message
    return got_msg


def validation_parts(message):
    """Split 'N validation error(s) detected: A; B' into (N, [A, B])."""
    m = re.fullmatch(r"(\d+) validation errors? detected: (.*)", message, re.S)
    assert m, f"not a validation message: {message!r}"
    return int(m.group(1)), m.group(2).split("; ")


def all_shards(kinesis, name):
    shards, start = [], None
    while True:
        kw = {"StreamName": name}
        if start:
            kw["ExclusiveStartShardId"] = start
        d = kinesis.describe_stream(**kw)["StreamDescription"]
        shards += d["Shards"]
        if not d["HasMoreShards"]:
            return shards
        start = d["Shards"][-1]["ShardId"]


def open_shards(kinesis, name):
    return [s for s in all_shards(kinesis, name) if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def md5_hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for_hash(shards, hash_key):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= hash_key <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard covers hash key {hash_key}")


def read_all(kinesis, iterator, max_calls=50, **kw):
    """Follow a shard iterator until a call returns no records; return (records, last response)."""
    records, resp = [], None
    for _ in range(max_calls):
        resp = kinesis.get_records(ShardIterator=iterator, **kw)
        records += resp["Records"]
        nxt = resp.get("NextShardIterator")
        if not resp["Records"] or not nxt:
            return records, resp
        iterator = nxt
    return records, resp



def b64(data):
    return base64.b64encode(data).decode()
