"""`rheo fsck` on a damaged data directory (issue 12).

Runs its own server (like test_crash.py), writes records, stops it, flips one byte inside one record in the
journal, then: `rheo fsck DIR` reports the damage and exits non-zero, the server still starts and answers
GetRecords of the damaged record with an error naming it, `rheo fsck --repair DIR` marks it lost (exit 0), and
after that GetRecords reads every other record.
"""

import base64
import os
import re
import subprocess
import tempfile
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import pytest

from test_crash import REPO, Client, Server

pytestmark = [pytest.mark.timeout(120)]

N = 30
DAMAGED = 10


def binary():
    if os.environ.get("RHEO_ENDPOINT"):
        pytest.skip("needs its own server binary")
    path = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    if not os.path.exists(path):
        pytest.fail(f"Rheo binary not found at {path}")
    return path


def data(i):
    return b"fsck-record-%04d" % i


def read_all(c, name):
    """-> (records' data, error documents met)."""
    it = c.ok("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                                   "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    got, errors = [], []
    for _ in range(40):
        status, doc = c.call("GetRecords", {"ShardIterator": it, "Limit": 7})
        if status != 200:
            errors.append((status, doc))
            break
        got += [base64.b64decode(r["Data"]) for r in doc["Records"]]
        if not doc["Records"] and doc.get("MillisBehindLatest", 0) == 0:
            break
        it = doc["NextShardIterator"]
    return got, errors


def metrics(srv):
    """GET /metrics parsed by the Prometheus text parser (which refuses a malformed exposition):
    the unlabelled samples by name, every one typed by its family's TYPE line."""
    with urllib.request.urlopen(f"http://{srv.host}:{srv.port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    typed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.name in typed or f"{family.name}_total" in typed, f"{family.name} has no TYPE line"
        for sample in family.samples:
            if not sample.labels:
                out[sample.name] = int(sample.value)
    return out


def wait_active(c, name):
    deadline = time.monotonic() + 10
    while c.ok("DescribeStreamSummary", {"StreamName": name})[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def fsck(bin_, *args):
    return subprocess.run([bin_, "fsck", *args], capture_output=True, text=True, timeout=60)


def test_fsck_reports_and_repairs_a_flipped_byte():
    bin_ = binary()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "data")
        srv = Server(bin_, data_dir, tmp, 0)
        try:
            c = Client(srv.host, srv.port)
            c.ok("CreateStream", {"StreamName": "hurt", "ShardCount": 1})
            wait_active(c, "hurt")
            for i in range(N):
                c.ok("PutRecord", {"StreamName": "hurt", "PartitionKey": "pk",
                                   "Data": base64.b64encode(data(i)).decode()})
            c.close()
        finally:
            srv.stop()

        seg = os.path.join(data_dir, "journal", "%020d.seg" % 1)
        with open(seg, "rb") as f:
            b = bytearray(f.read())
        at = b.find(data(DAMAGED))
        assert at > 0
        b[at + 3] ^= 0x20
        with open(seg, "wb") as f:
            f.write(b)

        r = fsck(bin_, data_dir)
        assert r.returncode != 0, r.stdout + r.stderr
        assert "damaged" in r.stdout, r.stdout

        srv = Server(bin_, data_dir, tmp, 1)
        try:
            c = Client(srv.host, srv.port)
            got, errors = read_all(c, "hurt")
            assert got == [data(i) for i in range(DAMAGED)]
            assert errors and errors[0][0] == 500, errors
            doc = errors[0][1]
            assert doc["__type"].endswith("InternalFailure"), doc
            message = doc.get("message") or doc.get("Message") or ""
            assert "damaged" in message and "shardId-000000000000" in message, doc
            m = metrics(srv)
            assert m["rheo_storage_corruption_events_total"] >= 1, m
            assert m["rheo_storage_damaged_entries"] == 1, m
            assert m["rheo_storage_lost_entries"] == 0, m
            c.close()
        finally:
            srv.stop()

        r = fsck(bin_, "--repair", data_dir)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "marked lost" in r.stdout, r.stdout
        r = fsck(bin_, data_dir)
        assert r.returncode == 0, r.stdout + r.stderr

        srv = Server(bin_, data_dir, tmp, 2)
        try:
            c = Client(srv.host, srv.port)
            got, errors = read_all(c, "hurt")
            assert not errors, errors
            assert got == [data(i) for i in range(N) if i != DAMAGED]
            m = metrics(srv)
            assert m["rheo_storage_damaged_entries"] == 0, m
            assert m["rheo_storage_lost_entries"] == 1, m
            c.close()
        finally:
            srv.stop()


def make_streams(c, names):
    for name in names:
        c.ok("CreateStream", {"StreamName": name, "ShardCount": 1})
    for name in names:
        wait_active(c, name)
        for i in range(5):
            c.ok("PutRecord", {"StreamName": name, "PartitionKey": "pk",
                               "Data": base64.b64encode(data(i)).decode()})


def catalog_file(data_dir, name):
    """The catalog file holding stream `name`'s metadata (its key ends with the name)."""
    cat = os.path.join(data_dir, "catalog")
    hits = [f for f in os.listdir(cat)
            if f.startswith("k") and bytes.fromhex(f[1:]).decode(errors="replace").endswith("/" + name)]
    assert len(hits) == 1, os.listdir(cat)
    return os.path.join(cat, hits[0])


@pytest.mark.parametrize("how", ["flipped", "deleted"])
def test_fsck_reports_damaged_or_deleted_stream_metadata_and_the_others_are_served(how):
    bin_ = binary()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "data")
        srv = Server(bin_, data_dir, tmp, 0)
        try:
            c = Client(srv.host, srv.port)
            make_streams(c, ["meta-hurt", "meta-fine"])
            c.close()
        finally:
            srv.stop()

        path = catalog_file(data_dir, "meta-hurt")
        if how == "flipped":
            with open(path, "rb") as f:
                b = bytearray(f.read())
            b[len(b) // 2] ^= 0x01
            with open(path, "wb") as f:
                f.write(b)
        else:
            os.remove(path)

        r = fsck(bin_, data_dir)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "no damage found" not in r.stdout, r.stdout
        if how == "flipped":
            assert "meta-hurt" in r.stdout, r.stdout
        assert "orphan log" in r.stdout and "entries 0..5" in r.stdout, r.stdout

        srv = Server(bin_, data_dir, tmp, 1)
        try:
            c = Client(srv.host, srv.port)
            names = c.ok("ListStreams", {})["StreamNames"]
            assert names == ["meta-fine"], names
            got, errors = read_all(c, "meta-fine")
            assert not errors and got == [data(i) for i in range(5)], (got, errors)
            status, doc = c.call("DescribeStreamSummary", {"StreamName": "meta-hurt"})
            if how == "flipped":
                assert status == 400 and doc["__type"].endswith("ResourceInUseException"), doc
                assert "damaged" in (doc.get("message") or ""), doc
            else:
                assert status == 400 and doc["__type"].endswith("ResourceNotFoundException"), doc
            c.close()
        finally:
            srv.stop()

        # --repair sets the damaged entry aside and rebuilds the stream from its orphan log (exit 0).
        r = fsck(bin_, "--repair", data_dir)
        assert r.returncode == 0, r.stdout + r.stderr
        m = re.search(r"adopted orphan logs \S+ into stream (\S+) \(us-east-1\) with 1 shards", r.stdout)
        assert m, r.stdout
        recovered = m.group(1)
        if how == "flipped":
            assert recovered == "meta-hurt", r.stdout
            assert "quarantined damaged entry" in r.stdout, r.stdout
            assert os.path.exists(os.path.join(data_dir, "catalog-quarantine", os.path.basename(path)))
        else:
            assert recovered.startswith("recovered-"), r.stdout
        r = fsck(bin_, data_dir)
        assert r.returncode == 0 and "no damage found" in r.stdout, r.stdout + r.stderr

        srv = Server(bin_, data_dir, tmp, 2)
        try:
            c = Client(srv.host, srv.port)
            names = c.ok("ListStreams", {})["StreamNames"]
            assert sorted(names) == sorted(["meta-fine", recovered]), names
            summary = c.ok("DescribeStreamSummary", {"StreamName": recovered})["StreamDescriptionSummary"]
            assert summary["StreamStatus"] == "ACTIVE", summary
            for name in ("meta-fine", recovered):
                got, errors = read_all(c, name)
                assert not errors and got == [data(i) for i in range(5)], (name, got, errors)
            c.ok("PutRecord", {"StreamName": recovered, "PartitionKey": "pk",
                               "Data": base64.b64encode(data(5)).decode()})
            got, errors = read_all(c, recovered)
            assert not errors and got == [data(i) for i in range(6)], (got, errors)
            c.close()
        finally:
            srv.stop()
