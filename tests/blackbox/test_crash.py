"""Crash consistency: `kill -9` a disk-backed Rheo in the middle of concurrent writes, many times.

This test runs its OWN server (it has to kill it), so it needs the binary (``RHEO_BIN``, default
``<repo>/target/debug/rheo``) and is skipped when ``RHEO_ENDPOINT`` points the suite elsewhere.

Each cycle restarts ``rheo serve`` on the same data directory (default fsync policy, ``group``),
first verifies everything written so far, then lets several writer threads send signed JSON
PutRecords / PutRecord calls over keep-alive connections and SIGKILLs the server 50-500 ms after the
writes start.  After the last cycle the server is started once more and verified again.

What is verified after every restart, reading every shard from TRIM_HORIZON:

* every ACKNOWLEDGED record is there, on the shard and under the sequence number it was acknowledged
  with, with the same partition key and data;
* per shard, sequence numbers strictly increase (so none repeats);
* every record read is one that was sent (payloads carry an id and a SHA-256 digest, so a torn or
  corrupted record is caught), on the shard its partition key hashes to, and appears at most once;
  sent-but-unacknowledged records may appear or not;
* a record once seen by a reader after a restart stays, with the same sequence number;
* a record that PutRecords explicitly reported as failed never appears.

Knobs: RHEO_CRASH_CYCLES (default 20), RHEO_CRASH_SEED (random), RHEO_CRASH_WRITERS (default 4),
RHEO_CRASH_FSYNC (passed as --fsync; unset = the server's default, group).
Note: kill -9 kills the process, not the kernel: data written to the page cache survives, so this
checks the server's own commit/recovery logic (partial frames, lost in-process buffers, index
rebuild), not behaviour on power loss.
"""

import base64
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from khelpers import md5_hash_key

pytestmark = [pytest.mark.crash, pytest.mark.timeout(240)]

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
AMZ_JSON = "application/x-amz-json-1.1"
READY = re.compile(r"^rheo ready on http://([^:/\s]+):(\d+) \(auth: [^)]*\)\s*$")
MAGIC = b"RHEOCRASH1"
DIGEST = 16
HEADER = struct.Struct(">HHI")  # cycle, writer, counter
SHARDS = 4
CREDS = Credentials("test", "test")
# The server's default policy (group) unless RHEO_CRASH_FSYNC names another one to try.
FSYNC = ["--fsync", os.environ["RHEO_CRASH_FSYNC"]] if os.environ.get("RHEO_CRASH_FSYNC") else []


# --------------------------------------------------------------------------- payloads


def make_payload(rng, cycle, writer, counter):
    """Self-checking: magic, id, random body, then a digest over everything before it."""
    body = rng.randbytes(rng.randint(0, 300))
    head = MAGIC + HEADER.pack(cycle, writer, counter) + body
    return head + hashlib.sha256(head).digest()[:DIGEST]


def parse_payload(data):
    """-> (cycle, writer, counter), or raise AssertionError for a torn or foreign record."""
    assert len(data) >= len(MAGIC) + HEADER.size + DIGEST, f"record too short to be ours: {data[:64]!r}"
    head, digest = data[:-DIGEST], data[-DIGEST:]
    assert head.startswith(MAGIC), f"record without our magic: {data[:64]!r}"
    assert hashlib.sha256(head).digest()[:DIGEST] == digest, f"record fails its checksum (torn?): {data[:64]!r}"
    return HEADER.unpack_from(head, len(MAGIC))


# --------------------------------------------------------------------------- server process


class Server:
    def __init__(self, binary, data_dir, logdir, n):
        self.out_path = os.path.join(logdir, f"serve-{n}.out")
        self.err_path = os.path.join(logdir, f"serve-{n}.err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir,
             "--create-stream-ms", "0", "--update-stream-ms", "0", *FSYNC,
             # Limits off: the writers put as fast as they can, past a shard's 1,000 records/s.
             "--throughput-limits", "off"],
            stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.host, self.port = self._wait_ready(30)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                first = f.readline()
            if first.endswith(b"\n"):
                m = READY.match(first.decode("utf-8", "replace"))
                if not m:
                    self.kill()
                    raise AssertionError(f"unexpected first stdout line: {first!r}\n{self.log_tail()}")
                return m.group(1), int(m.group(2))
            if self.proc.poll() is not None:
                raise AssertionError(f"rheo exited with {self.proc.returncode} before ready\n{self.log_tail()}")
            time.sleep(0.01)
        self.kill()
        raise AssertionError(f"rheo printed no ready line within {timeout} s\n{self.log_tail()}")

    def log_tail(self, n=3000):
        parts = []
        for p in (self.out_path, self.err_path):
            try:
                with open(p, "rb") as f:
                    parts.append(f"--- {os.path.basename(p)}\n" + f.read().decode("utf-8", "replace")[-n:])
            except OSError:
                pass
        return "\n".join(parts)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._out.close()
        self._err.close()

    def stop(self):
        """Graceful stop (SIGTERM): used only at the very end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._out.close()
        self._err.close()


class Client:
    """Signed JSON calls over one keep-alive HTTP/1.1 connection."""

    def __init__(self, host, port, timeout=15):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.url = f"http://{host}:{port}/"

    def call(self, op, payload):
        body = json.dumps(payload).encode()
        req = AWSRequest(method="POST", url=self.url, data=body, headers={
            "Content-Type": AMZ_JSON, "X-Amz-Target": f"Kinesis_20131202.{op}"})
        SigV4Auth(CREDS, "kinesis", REGION).add_auth(req)
        self.conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)

    def ok(self, op, payload):
        status, doc = self.call(op, payload)
        assert status == 200, f"{op} -> {status} {doc}"
        return doc

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------- bookkeeping


class Ledger:
    """What the writers sent and what the server acknowledged, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}      # id -> (partition key, data)
        self.acked = {}     # id -> (shard id, sequence number)
        self.failed = set()  # ids PutRecords reported as not written
        self.seen = {}      # id -> (shard id, sequence number) observed by a reader after a restart

    def record_sent(self, rid, pk, data):
        with self.lock:
            assert rid not in self.sent
            self.sent[rid] = (pk, data)

    def record_ack(self, rid, shard, seq):
        with self.lock:
            self.acked[rid] = (shard, seq)

    def record_failed(self, rid):
        with self.lock:
            self.failed.add(rid)


def writer(host, port, stream, cycle, wid, ledger, start, stop, seed, errors):
    rng = random.Random(seed)
    counter = 0
    try:
        client = Client(host, port, timeout=10)
    except OSError:
        return
    start.wait()
    try:
        while not stop.is_set():
            batch = 1 if rng.random() < 0.3 else rng.randint(2, 40)
            items = []
            for _ in range(batch):
                rid = (cycle, wid, counter)
                counter += 1
                pk = f"pk-{rng.randrange(1000)}"
                data = make_payload(rng, *rid)
                ledger.record_sent(rid, pk, data)
                items.append((rid, pk, data))
            try:
                if batch == 1:
                    rid, pk, data = items[0]
                    status, doc = client.call("PutRecord", {
                        "StreamName": stream, "PartitionKey": pk, "Data": base64.b64encode(data).decode()})
                else:
                    status, doc = client.call("PutRecords", {"StreamName": stream, "Records": [
                        {"PartitionKey": pk, "Data": base64.b64encode(data).decode()} for _, pk, data in items]})
            except (OSError, http.client.HTTPException):
                return  # the server is gone: whatever was in flight is sent-but-unacknowledged
            if status != 200:
                errors.append(f"writer {wid}: HTTP {status} {doc}")
                return
            if batch == 1:
                ledger.record_ack(items[0][0], doc["ShardId"], doc["SequenceNumber"])
                continue
            results = doc["Records"]
            if len(results) != len(items):
                errors.append(f"writer {wid}: PutRecords returned {len(results)} results for {len(items)} records")
                return
            failed = 0
            for (rid, _, _), res in zip(items, results):
                if "ErrorCode" in res:
                    failed += 1
                    ledger.record_failed(rid)
                else:
                    ledger.record_ack(rid, res["ShardId"], res["SequenceNumber"])
            if failed != doc.get("FailedRecordCount", 0):
                errors.append(f"writer {wid}: FailedRecordCount {doc.get('FailedRecordCount')} but {failed} failed")
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        errors.append(f"writer {wid}: {type(e).__name__}: {e}")
    finally:
        client.close()


# --------------------------------------------------------------------------- verification


def wait_active(client, stream, timeout=20):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        code, doc = client.call("DescribeStreamSummary", {"StreamName": stream})
        if code == 200:
            status = doc["StreamDescriptionSummary"]["StreamStatus"]
            if status == "ACTIVE":
                return
        else:
            status = doc
        time.sleep(0.01)
    raise AssertionError(f"stream {stream} not ACTIVE after {timeout} s: {status}")


def read_shard(client, stream, shard_id):
    it = client.ok("GetShardIterator", {"StreamName": stream, "ShardId": shard_id,
                                        "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    records = []
    for _ in range(10_000):
        doc = client.ok("GetRecords", {"ShardIterator": it, "Limit": 10000})
        records += doc["Records"]
        it = doc.get("NextShardIterator")
        if not it or (not doc["Records"] and doc.get("MillisBehindLatest", 0) == 0):
            return records
    raise AssertionError(f"{shard_id}: GetRecords never caught up")


def verify(client, stream, ledger, when):
    """Read everything back and check it against the ledger; returns the number of records read."""
    shards = client.ok("ListShards", {"StreamName": stream})["Shards"]
    assert len(shards) == SHARDS, f"{when}: {len(shards)} shards"
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"])
              for s in shards]

    def shard_of(pk):
        h = md5_hash_key(pk)
        return next(sid for lo, hi, sid in ranges if lo <= h <= hi)

    found = {}
    for lo_hi in ranges:
        sid = lo_hi[2]
        last = None
        for rec in read_shard(client, stream, sid):
            seq = rec["SequenceNumber"]
            assert seq.isdigit(), f"{when}: {sid}: bad sequence number {seq!r}"
            if last is not None:
                assert int(seq) > last, f"{when}: {sid}: sequence number {seq} after {last}: not strictly increasing"
            last = int(seq)
            data = base64.b64decode(rec["Data"])
            try:
                rid = parse_payload(data)
            except AssertionError as e:
                raise AssertionError(f"{when}: {sid} seq {seq}: {e}") from None
            assert rid in ledger.sent, f"{when}: {sid} seq {seq}: record {rid} was never sent"
            pk, sent_data = ledger.sent[rid]
            assert data == sent_data, f"{when}: record {rid} data differs from what was sent"
            assert rec["PartitionKey"] == pk, f"{when}: record {rid} partition key {rec['PartitionKey']!r} != {pk!r}"
            assert sid == shard_of(pk), f"{when}: record {rid} on {sid}, its key hashes to {shard_of(pk)}"
            assert rid not in found, f"{when}: record {rid} appears twice: {found[rid]} and {(sid, seq)}"
            assert rid not in ledger.failed, f"{when}: record {rid} was reported failed but is in the stream"
            found[rid] = (sid, seq)

    missing = [rid for rid in ledger.acked if rid not in found]
    assert not missing, (f"{when}: {len(missing)} of {len(ledger.acked)} acknowledged records are missing, "
                         f"e.g. {[(r, ledger.acked[r]) for r in missing[:5]]}")
    for rid, (sid, seq) in ledger.acked.items():
        assert found[rid] == (sid, seq), f"{when}: record {rid} acknowledged as {(sid, seq)}, read as {found[rid]}"
    vanished = [rid for rid in ledger.seen if found.get(rid) != ledger.seen[rid]]
    assert not vanished, (f"{when}: {len(vanished)} records read after an earlier restart are gone or moved, "
                          f"e.g. {[(r, ledger.seen[r], found.get(r)) for r in vanished[:5]]}")
    ledger.seen.update(found)
    return len(found)


# --------------------------------------------------------------------------- the test


def test_kill_9_during_writes_loses_no_acknowledged_record(capsys):
    if os.environ.get("RHEO_ENDPOINT"):
        pytest.skip("the crash test runs its own rheo binary; RHEO_ENDPOINT points the suite elsewhere")
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    if not os.path.exists(binary):
        pytest.fail(f"Rheo binary not found at {binary}: build it or set RHEO_BIN")
    cycles = int(os.environ.get("RHEO_CRASH_CYCLES", "20"))
    n_writers = int(os.environ.get("RHEO_CRASH_WRITERS", "4"))
    seed = int(os.environ.get("RHEO_CRASH_SEED", str(random.randrange(2**32))))
    rng = random.Random(seed)
    stream = "crash-stream"
    ledger = Ledger()
    work = tempfile.mkdtemp(prefix="rheo-crash-")
    data_dir = os.path.join(work, "data")
    os.mkdir(data_dir)
    started = time.monotonic()
    server = None
    verified = 0
    kills_during_writes = 0
    ok = False
    try:
        server = Server(binary, data_dir, work, 0)
        client = Client(server.host, server.port)
        client.ok("CreateStream", {"StreamName": stream, "ShardCount": SHARDS})
        wait_active(client, stream)
        client.close()
        server.stop()

        for cycle in range(1, cycles + 1):
            server = Server(binary, data_dir, work, cycle)
            client = Client(server.host, server.port)
            wait_active(client, stream)
            verified = verify(client, stream, ledger, f"[seed {seed}] restart before cycle {cycle}")
            client.close()

            start, stop, errors = threading.Event(), threading.Event(), []
            threads = [threading.Thread(
                target=writer, daemon=True,
                args=(server.host, server.port, stream, cycle, w, ledger, start, stop, rng.randrange(2**32), errors))
                for w in range(n_writers)]
            for t in threads:
                t.start()
            acked_before = len(ledger.acked)
            start.set()
            time.sleep(rng.uniform(0.05, 0.5))
            server.kill()
            stop.set()
            for t in threads:
                t.join(timeout=20)
                assert not t.is_alive(), "a writer thread hung after the kill"
            assert not errors, f"[seed {seed}] cycle {cycle}: {errors[:5]}\n{server.log_tail()}"
            if len(ledger.acked) > acked_before:
                kills_during_writes += 1
            server = None

        server = Server(binary, data_dir, work, cycles + 1)
        client = Client(server.host, server.port)
        wait_active(client, stream)
        verified = verify(client, stream, ledger, f"[seed {seed}] final restart")
        client.close()
        server.stop()
        server = None
        ok = True
    except AssertionError as e:
        tail = server.log_tail() if server is not None else ""
        raise AssertionError(f"{e}\n(work dir kept: {work})\n{tail}") from None
    finally:
        if server is not None:
            server.kill()
        if ok:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.monotonic() - started
    summary = (f"crash test: {cycles} kill -9 cycles, {len(ledger.sent)} records sent, "
               f"{len(ledger.acked)} acknowledged, {verified} verified after the final restart "
               f"({verified - len(ledger.acked)} unacknowledged survivors), 0 lost, seed {seed}, {elapsed:.1f} s")
    with capsys.disabled():
        print("\n" + summary)
    # Without acknowledged writes in most cycles the test would prove little.
    assert kills_during_writes >= cycles // 2, f"only {kills_during_writes} of {cycles} cycles had acknowledged writes"
    assert len(ledger.acked) > 0


ORPHAN_LINE = "belongs to no stream"


def _wait_gone(client, stream, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, doc = client.call("DescribeStreamSummary", {"StreamName": stream})
        if code == 400 and doc.get("__type") == "ResourceNotFoundException":
            return
        time.sleep(0.02)
    raise AssertionError(f"stream {stream} still there after {timeout} s")


def test_kill_9_during_delete_stream_leaves_no_orphan():
    """DeleteStream, then kill -9 at a random moment of its DELETING window (500 ms by default)
    or just after; the restarted server finishes the deletion, and the next start finds no log
    that no stream names (the server reports such logs at ERROR)."""
    if os.environ.get("RHEO_ENDPOINT"):
        pytest.skip("the crash test runs its own rheo binary; RHEO_ENDPOINT points the suite elsewhere")
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    rng = random.Random(int(os.environ.get("RHEO_CRASH_SEED", str(random.randrange(2**32)))))
    work = tempfile.mkdtemp(prefix="rheo-crash-delete-")
    data_dir = os.path.join(work, "data")
    os.mkdir(data_dir)
    n = 0
    server = None
    try:
        for cycle in range(6):
            stream = f"doomed-{cycle}"
            server = Server(binary, data_dir, work, n)
            n += 1
            client = Client(server.host, server.port)
            client.ok("CreateStream", {"StreamName": stream, "ShardCount": 3})
            wait_active(client, stream)
            client.ok("PutRecords", {"StreamName": stream, "Records": [
                {"Data": base64.b64encode(b"x" * 100).decode(), "PartitionKey": f"pk-{i}"}
                for i in range(300)]})
            client.ok("DeleteStream", {"StreamName": stream})
            time.sleep(rng.uniform(0.0, 0.7))
            client.close()
            server.kill()

            server = Server(binary, data_dir, work, n)
            n += 1
            client = Client(server.host, server.port)
            _wait_gone(client, stream)
            # The name is free again and the new stream starts empty.
            client.ok("CreateStream", {"StreamName": stream, "ShardCount": 1})
            wait_active(client, stream)
            assert read_shard(client, stream, "shardId-000000000000") == []
            client.ok("DeleteStream", {"StreamName": stream})
            _wait_gone(client, stream)
            client.close()
            server.kill()
        server = Server(binary, data_dir, work, n)
        client = Client(server.host, server.port)
        assert client.ok("ListStreams", {})["StreamNames"] == []
        client.close()
        server.stop()
        server = None
        for i in range(n + 1):
            with open(os.path.join(work, f"serve-{i}.err"), encoding="utf-8", errors="replace") as f:
                assert ORPHAN_LINE not in f.read(), f"start {i} found an orphaned log"
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
