"""AWS's limits on a server started with no --throughput-limits flag: on by default.

A producer that stays under a shard's limits is never throttled; one past them meets every
exception AWS answers, in AWS's words: PutRecord and GetRecords ProvisionedThroughputExceeded,
per-record PutRecords ErrorCode/ErrorMessage (refused records written nowhere), control-plane
LimitExceeded, and UpdateShardCount's ten scalings a day.
"""

import concurrent.futures
import time

import pytest
from botocore.exceptions import ClientError

from khelpers import assert_error

pytestmark = pytest.mark.modern

ACCOUNT = "000000000000"
SHARD0 = "shardId-000000000000"


def _slow_wait_active(kinesis, name, timeout=15.0):
    """ACTIVE, asking DescribeStreamSummary five times a second (its limit is 20/s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            if s["StreamStatus"] == "ACTIVE":
                return s
        except ClientError as e:
            if e.response["Error"]["Code"] != "LimitExceededException":
                raise
        time.sleep(0.2)
    raise AssertionError(f"{name} never became ACTIVE")


def test_a_producer_at_90_percent_of_a_shards_limit_is_never_throttled(kinesis_limited,
                                                                       limited_stream):
    name = limited_stream(1)
    rate, seconds, per_call = 900, 5, 90
    interval = per_call / rate  # 100 ms
    start = time.monotonic()
    sent = 0
    for tick in range(rate * seconds // per_call):
        # Paced on a schedule (not "sleep after each call"), so the offered rate is 900/s.
        delay = start + tick * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        r = kinesis_limited.put_records(StreamName=name, Records=[
            {"Data": b"x" * 100, "PartitionKey": f"k{i}"} for i in range(per_call)])
        assert r["FailedRecordCount"] == 0, (tick, [x for x in r["Records"] if "ErrorCode" in x][:1])
        sent += per_call
    elapsed = time.monotonic() - start
    assert sent == rate * seconds
    # The schedule held: no faster than 900/s (a late client is slower, which is no test).
    assert elapsed >= seconds - interval - 0.01, elapsed


def test_past_a_shards_write_limit_records_and_put_record_are_refused(kinesis_limited,
                                                                      limited_stream):
    name = limited_stream(1)
    expected = f"Rate exceeded for shard {SHARD0} in stream {name} under account {ACCOUNT}."
    admitted = refused = 0
    for chunk in range(4):
        r = kinesis_limited.put_records(StreamName=name, Records=[
            {"Data": b"x", "PartitionKey": f"k{chunk}-{i}"} for i in range(500)])
        for rec in r["Records"]:
            if "ErrorCode" in rec:
                assert rec["ErrorCode"] == "ProvisionedThroughputExceededException"
                assert rec["ErrorMessage"] == expected
                assert "SequenceNumber" not in rec
                refused += 1
            else:
                admitted += 1
        assert r["FailedRecordCount"] == sum("ErrorCode" in x for x in r["Records"])
    # 2,000 records in well under a second: a second's budget (1,000 and what refilled
    # meanwhile) goes in, the rest is refused.
    assert 1000 <= admitted < 2000 and refused == 2000 - admitted, (admitted, refused)
    # Nothing refused was written.
    it = kinesis_limited.get_shard_iterator(StreamName=name, ShardId=SHARD0,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = kinesis_limited.get_records(ShardIterator=it)["Records"]
    assert len(got) == admitted
    # Bytes: 1 MiB a second. Of three 1 MiB PutRecord calls in a row, one is refused.
    errors = []
    for _ in range(3):
        try:
            kinesis_limited.put_record(StreamName=name, Data=b"y" * (1024 * 1024 - 1),
                                       PartitionKey="k")
        except ClientError as e:
            errors.append((e.response["Error"]["Code"], e.response["Error"]["Message"],
                           e.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert errors, "three 1 MiB records in a row were all admitted"
    assert set(errors) == {("ProvisionedThroughputExceededException", expected, 400)}, errors


def test_get_records_past_five_calls_a_second_is_refused(kinesis_limited, limited_stream):
    name = limited_stream(1)
    it = kinesis_limited.get_shard_iterator(StreamName=name, ShardId=SHARD0,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    # Twelve calls at once from as many threads: a slow (debug, loaded) client sending them one
    # after the other might never pass five a second.
    def call(_):
        try:
            kinesis_limited.get_records(ShardIterator=it)
            return None
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"]["Message"]

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(12)))
    elapsed = time.monotonic() - start
    served = results.count(None)
    errors = {r for r in results if r is not None}
    assert errors == {("ProvisionedThroughputExceededException",
                       f"Rate exceeded for Shard - {SHARD0} in stream {name} under account "
                       f"{ACCOUNT}.")}, results
    # Five at once, and five a second after that (one more for rounding).
    assert 5 <= served <= 5 + 5 * elapsed + 1, (served, elapsed)
    time.sleep(0.25)
    kinesis_limited.get_records(ShardIterator=it)


def test_control_plane_calls_past_their_rate_are_limit_exceeded(kinesis_limited):
    # DescribeLimits: one call a second per account.
    kinesis_limited.describe_limits()
    assert_error(kinesis_limited.describe_limits, "LimitExceededException",
                 f"Rate exceeded for account {ACCOUNT}.")
    time.sleep(1.1)
    kinesis_limited.describe_limits()


def test_update_shard_count_scales_ten_times_a_day_at_most(kinesis_limited, limited_stream):
    name = limited_stream(1)
    for i in range(10):
        target = 2 if i % 2 == 0 else 1
        r = kinesis_limited.update_shard_count(StreamName=name, TargetShardCount=target,
                                               ScalingType="UNIFORM_SCALING")
        assert r["TargetShardCount"] == target
        _slow_wait_active(kinesis_limited, name)
    assert_error(kinesis_limited.update_shard_count, "LimitExceededException",
                 f"UpdateShardCount cannot scale stream {name} under account {ACCOUNT} more than "
                 "10 times in a rolling 24-hour period.",
                 StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    # Asking for the count it has is no scaling, and still answered.
    r = kinesis_limited.update_shard_count(StreamName=name, TargetShardCount=1,
                                           ScalingType="UNIFORM_SCALING")
    assert r["CurrentShardCount"] == 1 and r["TargetShardCount"] == 1
