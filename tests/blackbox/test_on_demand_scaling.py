"""On-demand streams scale by themselves: under load above their 4 shards' write limit they
are throttled, split their hot shards (lineage as with any reshard), and stop throttling.

Runs its own server with the throughput limits on and the scaler looking every 4 s
(``--on-demand-scale-interval-ms 4000``), on the storage the session uses
(``RHEO_BLACKBOX_STORAGE``). The scaler's first look at a stream only starts its first window,
so the first split comes at the second look, 4 to 8 s after the load starts; by then the
shards' one-second bursts are long spent at 1.5 times their limit and throttling has begun.
"""

import os
import threading
import time

import pytest

from conftest import make_client, rheo_server
from khelpers import all_shards, unique_name, wait_status

pytestmark = pytest.mark.modern

RATE = 6000  # records/s offered: 1.5 times the 4,000/s of a new on-demand stream
BATCH = 500
THREADS = 4


@pytest.fixture(scope="module")
def scaling_endpoint():
    if os.environ.get("RHEO_ENDPOINT"):
        pytest.skip("needs a Rheo server started with short scaling timings")
    with rheo_server(
        throughput_limits="on",
        on_demand_scale_interval_ms="4000",
        on_demand_scale_down_ms="600000",
    ) as url:
        yield url


class Load:
    """THREADS producers offering RATE records/s in PutRecords of BATCH records, each with its
    own partition keys; every answer is kept as (time sent, records refused as throttled)."""

    def __init__(self, endpoint, name):
        self.endpoint, self.name = endpoint, name
        self.results = []
        self.errors = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(THREADS)]

    def run(self, t):
        client = make_client(self.endpoint)
        period = BATCH * THREADS / RATE
        next_at = time.monotonic() + t * period / THREADS
        n = 0
        while not self.stop.is_set():
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            sent = time.monotonic()
            records = [{"Data": b"0123456789", "PartitionKey": f"t{t}-{n}-{i}"} for i in range(BATCH)]
            n += 1
            try:
                out = client.put_records(StreamName=self.name, Records=records)
            except Exception as e:  # noqa: BLE001 - kept and asserted on below
                self.errors.append(repr(e))
                return
            throttled = sum(1 for r in out["Records"]
                            if r.get("ErrorCode") == "ProvisionedThroughputExceededException")
            other = [r["ErrorCode"] for r in out["Records"]
                     if r.get("ErrorCode") not in (None, "ProvisionedThroughputExceededException")]
            with self.lock:
                self.results.append((sent, throttled, other))
            next_at += period

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=30)


def test_an_on_demand_stream_under_rising_load_splits_and_stops_throttling(scaling_endpoint):
    kinesis = make_client(scaling_endpoint)
    name = unique_name("od")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_status(kinesis, name, "ACTIVE")
    assert len(all_shards(kinesis, name)) == 4
    start = time.monotonic()
    split_at = None
    with Load(scaling_endpoint, name) as load:
        while time.monotonic() - start < 20:
            time.sleep(0.25)
            shards = kinesis.list_shards(StreamName=name)["Shards"]
            if split_at is None and len(shards) > 4:
                split_at = time.monotonic()
            if split_at is not None and time.monotonic() - split_at > 4:
                break
    assert not load.errors, load.errors[:3]
    assert all(not other for _, _, other in load.results)
    assert split_at is not None, "the stream never split"

    # Throttled first: 1,500 records/s a shard is more than a shard takes.
    before = [r for r in load.results if r[0] < split_at]
    assert sum(t for _, t, _ in before) > 0, "no ProvisionedThroughputExceeded before the split"

    # Split by itself: parents closed, each with two children splitting its range.
    shards = all_shards(kinesis, name)
    by_id = {s["ShardId"]: s for s in shards}
    parents = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert len(parents) >= 4
    for p in parents:
        children = [s for s in shards if s.get("ParentShardId") == p["ShardId"]]
        assert len(children) == 2, p["ShardId"]
        lo, hi = sorted(children, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        assert lo["HashKeyRange"]["StartingHashKey"] == p["HashKeyRange"]["StartingHashKey"]
        assert hi["HashKeyRange"]["EndingHashKey"] == p["HashKeyRange"]["EndingHashKey"]
        assert int(lo["HashKeyRange"]["EndingHashKey"]) + 1 == int(hi["HashKeyRange"]["StartingHashKey"])
    open_shards = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert len(open_shards) >= 8
    assert set(by_id) >= {"shardId-000000000000", "shardId-000000000003"}

    # And at the same rate no more throttling once the new shards took over (a second's grace
    # for answers already on their way).
    after = [r for r in load.results if r[0] > split_at + 1.0]
    assert len(after) >= 10, "too few requests after the split to tell"
    assert sum(t for _, t, _ in after) == 0, [t for _, t, _ in after if t]

    # The stream stayed ACTIVE and every count agrees.
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == len(open_shards)
    limits = kinesis.describe_limits()
    assert limits["OpenShardCount"] == len(open_shards)
    assert limits["OnDemandStreamCount"] == 1
