"""GET /metrics (Prometheus text) after known traffic, parsed by prometheus_client's parser:
CloudWatch's stream metrics under their names, shard-level ones only as enhanced monitoring
enables them, the server's own, the separate metrics port; and JSON logs that carry the
request id the client got in x-amzn-RequestId."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, make_client, rheo_server
from khelpers import unique_name, wait_status

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RHEO_ENDPOINT")), reason="reads the metrics of servers it starts"
)

ACCOUNT, REGION = "000000000000", "us-east-1"


def scrape(endpoint):
    with urllib.request.urlopen(f"{endpoint}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family is declared twice"
    return {f.name: f for f in families}


def value(families, family, sample, **labels):
    found = [s.value for s in families[family].samples
             if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (family, sample, labels, families[family].samples)
    return found[0]


def of_stream(name):
    return {"stream_name": name, "account": ACCOUNT, "region": REGION}


@pytest.fixture(scope="module")
def server():
    with rheo_server() as endpoint:
        yield endpoint


def test_put_and_get_metrics_count_exactly_what_was_sent(server):
    k = make_client(server)
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    sizes = [len(f"r{i}" * (i + 1)) for i in range(10)]
    for i in range(10):
        k.put_record(StreamName=name, Data=(f"r{i}" * (i + 1)).encode(), PartitionKey="pk")
    batch = [{"Data": b"x" * 100, "PartitionKey": "pk2"} for _ in range(5)]
    assert k.put_records(StreamName=name, Records=batch)["FailedRecordCount"] == 0
    it = k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = k.get_records(ShardIterator=it, Limit=100)["Records"]
    assert len(got) == 15
    m = scrape(server)
    s = of_stream(name)
    single_bytes = sum(sizes) + 10 * len("pk")
    batch_bytes = 5 * (100 + len("pk2"))
    assert value(m, "kinesis_IncomingRecords", "kinesis_IncomingRecords_total", **s) == 15
    assert value(m, "kinesis_IncomingBytes", "kinesis_IncomingBytes_total", **s) == single_bytes + batch_bytes
    assert value(m, "kinesis_PutRecord_Bytes", "kinesis_PutRecord_Bytes_total", **s) == single_bytes
    assert value(m, "kinesis_PutRecords_Bytes", "kinesis_PutRecords_Bytes_total", **s) == batch_bytes
    assert value(m, "kinesis_PutRecords_Records", "kinesis_PutRecords_Records_total", **s) == 5
    assert value(m, "kinesis_PutRecords_SuccessfulRecords", "kinesis_PutRecords_SuccessfulRecords_total", **s) == 5
    assert value(m, "kinesis_PutRecords_FailedRecords", "kinesis_PutRecords_FailedRecords_total", **s) == 0
    assert value(m, "kinesis_PutRecord_Latency", "kinesis_PutRecord_Latency_count", **s) == 10
    assert value(m, "kinesis_PutRecord_Success", "kinesis_PutRecord_Success_count", **s) == 10
    assert value(m, "kinesis_PutRecord_Success", "kinesis_PutRecord_Success_sum", **s) == 10
    assert value(m, "kinesis_GetRecords_Records", "kinesis_GetRecords_Records_total", **s) == 15
    assert value(m, "kinesis_GetRecords_Bytes", "kinesis_GetRecords_Bytes_total", **s) == single_bytes + batch_bytes
    assert m["kinesis_PutRecord_Latency"].type == "histogram"


def test_shard_level_metrics_follow_enhanced_monitoring(server):
    k = make_client(server)
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=2)
    wait_status(k, name, "ACTIVE")

    def shard_families():
        m = scrape(server)
        return {f for f, fam in m.items() if f.startswith("kinesis_shard_")
                and any(smp.labels.get("stream_name") == name for smp in fam.samples)}

    assert shard_families() == set()
    k.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
    k.put_record(StreamName=name, Data=b"abcd", PartitionKey="p")
    assert shard_families() == {"kinesis_shard_IncomingBytes"}
    shard = k.put_record(StreamName=name, Data=b"abcdef", PartitionKey="p")["ShardId"]
    m = scrape(server)
    assert value(m, "kinesis_shard_IncomingBytes", "kinesis_shard_IncomingBytes_total",
                 shard_id=shard, **of_stream(name)) == (4 + 1) + (6 + 1)
    k.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    every = shard_families()
    assert {"kinesis_shard_IncomingBytes", "kinesis_shard_IncomingRecords", "kinesis_shard_OutgoingBytes",
            "kinesis_shard_OutgoingRecords", "kinesis_shard_ReadProvisionedThroughputExceeded",
            "kinesis_shard_WriteProvisionedThroughputExceeded",
            "kinesis_shard_IteratorAgeMilliseconds"} <= every, every
    k.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert shard_families() == set()


def test_the_server_s_own_metrics_are_there(server):
    k = make_client(server)
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    k.put_record(StreamName=name, Data=b"abcd", PartitionKey="p")
    m = scrape(server)
    assert m["rheo_storage_group_write_seconds"].type == "histogram"
    assert value(m, "rheo_http_open_connections", "rheo_http_open_connections") >= 1
    assert value(m, "process_resident_memory_bytes", "process_resident_memory_bytes") > 1_000_000
    assert m["rheo_storage_writer_queue_bytes"].type == "gauge"
    assert m["rheo_http_requests_by_operation"].type == "counter"
    # The memory engine writes no groups and keeps nothing on disk.
    if os.environ.get("RHEO_BLACKBOX_STORAGE", "disk") == "disk":
        assert value(m, "rheo_storage_group_write_seconds", "rheo_storage_group_write_seconds_count") >= 1
        assert value(m, "rheo_stream_disk_bytes", "rheo_stream_disk_bytes", stream_name=name) > 0


def test_throttled_puts_are_counted():
    with rheo_server(throughput_limits=None) as endpoint:
        k = make_client(endpoint)
        name = unique_name()
        k.create_stream(StreamName=name, ShardCount=1)
        wait_status(k, name, "ACTIVE")
        big = [{"Data": b"x" * 1000, "PartitionKey": "p"} for _ in range(500)]
        failed = sum(k.put_records(StreamName=name, Records=big)["FailedRecordCount"] for _ in range(4))
        assert failed > 0
        m = scrape(endpoint)
        s = of_stream(name)
        assert value(m, "kinesis_WriteProvisionedThroughputExceeded",
                     "kinesis_WriteProvisionedThroughputExceeded_total", **s) == failed
        assert value(m, "kinesis_PutRecords_ThrottledRecords", "kinesis_PutRecords_ThrottledRecords_total", **s) == failed


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_metrics_port_serves_only_metrics():
    port = _free_port()
    with rheo_server(metrics_port=str(port)) as endpoint:
        k = make_client(endpoint)
        k.list_streams()
        m = scrape(f"http://127.0.0.1:{port}")
        assert "rheo_http_requests" in m
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=b"{}", timeout=5)
        assert e.value.code == 404


def test_json_logs_carry_the_request_id_of_the_answer():
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="rheo-json-log-", suffix=".log", delete=False)
    env = {**os.environ, "RHEO_LOG": "debug"}
    proc = subprocess.Popen([binary, "serve", "--in-memory", "--port", str(port), "--log-format", "json"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, open(log.name).read()
                time.sleep(0.05)
        k = make_client(endpoint)
        answer = k.list_streams()
        request_id = answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        deadline = time.monotonic() + 5
        while True:
            lines = [json.loads(line) for line in open(log.name) if line.startswith("{")]
            if any(request_id in json.dumps(line) for line in lines):
                break
            assert time.monotonic() < deadline, f"no JSON line names {request_id}"
            time.sleep(0.05)
        with open(log.name) as f:
            for line in f:
                if line.strip() and line.startswith("{"):
                    json.loads(line)  # every JSON-looking line is JSON
        assert lines, "no JSON log lines"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
