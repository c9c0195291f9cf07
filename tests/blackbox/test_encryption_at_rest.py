"""Encryption at rest with the local KMS: records written while a stream is encrypted are
sealed on disk (a known marker, as data and as partition key, is in no file of the data
directory), read back in clear through the API, also after a restart; a disabled or deleted key
refuses puts and reads with the KMS* errors Kinesis gives."""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REPO
from khelpers import unique_name, wait_status

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RHEO_ENDPOINT")), reason="starts its own servers on a data directory"
)

MARKER = b"AT-REST-MARKER-4b1d8e2a"
BINARY = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
ON_DISK = os.environ.get("RHEO_BLACKBOX_STORAGE", "disk") == "disk"


class Server:
    """A server on `data_dir` (None: in memory) that can be stopped and started again."""

    def __init__(self, data_dir):
        self.data_dir, self.proc = data_dir, None

    def start(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        storage = ["--data-dir", self.data_dir] if self.data_dir else ["--in-memory"]
        self.log = tempfile.NamedTemporaryFile(prefix="rheo-at-rest-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), *storage, "--create-stream-ms", "100",
             "--update-stream-ms", "100", "--throughput-limits", "off"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, open(self.log.name).read()
                time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{self.port}"
        cfg = Config(retries={"max_attempts": 1})
        self.kinesis = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                                    aws_access_key_id="AKID", aws_secret_access_key="s", config=cfg)
        self.kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="AKID", aws_secret_access_key="s", config=cfg)
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)


@pytest.fixture
def server():
    data_dir = tempfile.mkdtemp(prefix="rheo-at-rest-data-") if ON_DISK else None
    srv = Server(data_dir).start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()
    if data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)


def encrypted_stream(k, key_id):
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    k.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key_id)
    wait_status(k, name, "ACTIVE")
    summary = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", key_id)
    return name


def read_all(k, name):
    it = k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return k.get_records(ShardIterator=it, Limit=1000)["Records"]


def files_holding(root, needle):
    hits = []
    for path in pathlib.Path(root).rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            hits.append(str(path))
    return hits


@pytest.mark.skipif(not ON_DISK, reason="scans the data directory of the disk engine")
def test_a_marker_is_sealed_on_disk_and_read_back_also_after_a_restart(server):
    k = server.kinesis
    name = encrypted_stream(k, "alias/aws/kinesis")
    put = k.put_record(StreamName=name, Data=MARKER * 4, PartitionKey=MARKER.decode())
    assert put["EncryptionType"] == "KMS"
    batch = k.put_records(StreamName=name, Records=[{"Data": MARKER, "PartitionKey": "p"}] * 20)
    assert batch["FailedRecordCount"] == 0 and batch["EncryptionType"] == "KMS"
    plain = unique_name()
    k.create_stream(StreamName=plain, ShardCount=1)
    wait_status(k, plain, "ACTIVE")
    k.put_record(StreamName=plain, Data=b"PLAIN-CONTROL-" + MARKER[:4], PartitionKey="p")
    # The control: the scan does find what is written in clear.
    assert files_holding(server.data_dir, b"PLAIN-CONTROL-" + MARKER[:4])
    assert files_holding(server.data_dir, MARKER) == []
    records = read_all(k, name)
    assert records[0]["Data"] == MARKER * 4 and records[0]["PartitionKey"] == MARKER.decode()
    assert records[0]["EncryptionType"] == "KMS" and len(records) == 21
    server.stop()
    assert files_holding(server.data_dir, MARKER) == []
    server.start()
    k = server.kinesis
    records = read_all(k, name)
    assert [r["Data"] for r in records] == [MARKER * 4] + [MARKER] * 20
    # A new epoch after the restart: still sealed.
    k.put_record(StreamName=name, Data=MARKER, PartitionKey="after-restart")
    assert files_holding(server.data_dir, MARKER) == []
    assert read_all(k, name)[-1]["Data"] == MARKER


def test_a_disabled_key_refuses_puts_and_reads_and_enabling_restores(server):
    k, kms = server.kinesis, server.kms
    key = kms.create_key()["KeyMetadata"]
    name = encrypted_stream(k, key["Arn"])
    k.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    kms.disable_key(KeyId=key["KeyId"])
    for call in (lambda: k.put_record(StreamName=name, Data=b"x", PartitionKey="p"),
                 lambda: k.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p"}]),
                 lambda: read_all(k, name)):
        with pytest.raises(ClientError) as e:
            call()
        err = e.value.response["Error"]
        assert err["Code"] == "KMSDisabledException", err
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert key["Arn"] in err["Message"], err["Message"]
    kms.enable_key(KeyId=key["KeyId"])
    k.put_record(StreamName=name, Data=b"after", PartitionKey="p")
    assert [r["Data"] for r in read_all(k, name)] == [b"before", b"after"]


def test_a_key_pending_deletion_is_in_an_invalid_state(server):
    k, kms = server.kinesis, server.kms
    key = kms.create_key()["KeyMetadata"]
    name = encrypted_stream(k, key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        k.put_record(StreamName=name, Data=b"x", PartitionKey="p")
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException", e.value.response["Error"]


def test_stopping_encryption_leaves_earlier_records_readable(server):
    k = server.kinesis
    name = encrypted_stream(k, "alias/aws/kinesis")
    k.put_record(StreamName=name, Data=b"sealed", PartitionKey="p")
    k.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, name, "ACTIVE")
    put = k.put_record(StreamName=name, Data=b"clear", PartitionKey="p")
    assert put.get("EncryptionType", "NONE") == "NONE"
    assert [r["Data"] for r in read_all(k, name)] == [b"sealed", b"clear"]


def test_each_record_reports_how_it_was_written(server):
    k = server.kinesis
    name = encrypted_stream(k, "alias/aws/kinesis")
    k.put_record(StreamName=name, Data=b"sealed", PartitionKey="p")
    k.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, name, "ACTIVE")
    k.put_record(StreamName=name, Data=b"clear", PartitionKey="p")
    records = read_all(k, name)
    assert [(r["Data"], r.get("EncryptionType", "NONE")) for r in records] == [
        (b"sealed", "KMS"), (b"clear", "NONE")]


def test_a_missing_key_is_refused_by_start_stream_encryption(server):
    k = server.kinesis
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    with pytest.raises(ClientError) as e:
        k.start_stream_encryption(StreamName=name, EncryptionType="KMS",
                                  KeyId="arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555")
    assert e.value.response["Error"]["Code"] == "KMSNotFoundException", e.value.response["Error"]
    assert k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["EncryptionType"] == "NONE"
