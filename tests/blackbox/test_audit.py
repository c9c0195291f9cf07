"""The audit log (`--audit-log FILE`): one CloudTrail-shaped JSON line per API call, each valid
against tests/blackbox/schemas/cloudtrail-record.schema.json; management events always, data
events only with --audit-data-events; never record data, partition keys' data or secrets;
rotation by size keeps the configured number of files."""

import base64
import json
import os
import pathlib
import time

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError

from conftest import make_client, rheo_server
from khelpers import unique_name, wait_status

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RHEO_ENDPOINT")), reason="reads the audit log of servers it starts"
)

SCHEMA = json.loads((pathlib.Path(__file__).parent / "schemas" / "cloudtrail-record.schema.json").read_text())
MARKER = b"AUDIT-MARKER-7f3c9e"


def lines(path, at_least=1, timeout=5.0):
    """The audit file's records once it holds `at_least` of them (the writer is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(records) >= at_least or time.monotonic() > deadline:
            for r in records:
                jsonschema.validate(r, SCHEMA)
            return records


def by_name(records, name):
    return [r for r in records if r["eventName"] == name]


def traffic(endpoint):
    k = make_client(endpoint)
    name = unique_name()
    created = k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    k.add_tags_to_stream(StreamName=name, Tags={"team": "a"})
    put = k.put_record(StreamName=name, Data=MARKER, PartitionKey=MARKER.decode())
    it = k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    k.get_records(ShardIterator=it)
    with pytest.raises(ClientError) as e:
        k.describe_stream_summary(StreamName="no-such-" + name)
    return name, created, put, e.value


def test_management_events_are_recorded_and_valid(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path)) as endpoint:
        name, created, _, missing = traffic(endpoint)
        records = lines(path, at_least=3)
    create = by_name(records, "CreateStream")
    assert len(create) == 1
    c = create[0]
    assert c["eventSource"] == "kinesis.amazonaws.com"
    assert c["requestID"] == created["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert c["requestParameters"] == {"streamName": name, "shardCount": 1}
    assert c["readOnly"] is False and c["managementEvent"] is True and c["eventCategory"] == "Management"
    assert c["sourceIPAddress"] == "127.0.0.1"
    assert c["userAgent"].startswith("Boto3/")
    assert c["resources"] == [{"ARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}",
                               "accountId": "000000000000", "type": "AWS::Kinesis::Stream"}]
    failed = by_name(records, "DescribeStreamSummary")
    assert len(failed) == 1
    f = failed[0]
    assert f["readOnly"] is True
    assert f["errorCode"] == "ResourceNotFoundException"
    assert f["errorMessage"] == missing.response["Error"]["Message"]
    assert by_name(records, "AddTagsToStream")
    # Data events are opt-in, as in CloudTrail.
    for data in ("PutRecord", "GetShardIterator", "GetRecords"):
        assert by_name(records, data) == [], data
    assert len({r["eventID"] for r in records}) == len(records)


def test_data_events_only_when_asked_and_never_the_data(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path), audit_data_events=True) as endpoint:
        name, _, put, _ = traffic(endpoint)
        records = lines(path, at_least=6)
    puts = by_name(records, "PutRecord")
    assert len(puts) == 1
    p = puts[0]
    assert p["eventCategory"] == "Data" and p["managementEvent"] is False
    assert p["requestID"] == put["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert p["requestParameters"]["streamName"] == name
    assert by_name(records, "GetRecords") and by_name(records, "GetShardIterator")
    text = path.read_bytes()
    for needle in (MARKER, base64.b64encode(MARKER), MARKER.hex().encode()):
        assert needle not in text, needle


def test_no_secret_or_signature_is_recorded(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path), audit_data_events=True) as endpoint:
        k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id="AKIDAUDIT", aws_secret_access_key="SECRET-NEVER-LOGGED")
        k.list_streams()
        records = lines(path)
    assert records[0]["userIdentity"]["accessKeyId"] == "AKIDAUDIT"
    text = path.read_text()
    assert "SECRET-NEVER-LOGGED" not in text
    assert "Signature=" not in text and "AWS4-HMAC-SHA256" not in text


def test_kms_calls_are_audited_without_key_material(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path), audit_data_events=True) as endpoint:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIDAUDIT", aws_secret_access_key="s")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=MARKER)["CiphertextBlob"]
        records = lines(path, at_least=2)
    kms_records = [r for r in records if r["eventSource"] == "kms.amazonaws.com"]
    assert {r["eventName"] for r in kms_records} >= {"CreateKey", "Encrypt"}
    by_name = {r["eventName"]: r for r in kms_records}
    # CloudTrail marks a key change as a write and a use of the key as read-only.
    assert by_name["CreateKey"]["readOnly"] is False
    assert by_name["Encrypt"]["readOnly"] is True
    assert all("Boto3" in r["userAgent"] or "botocore" in r["userAgent"] for r in kms_records)
    text = path.read_bytes()
    assert MARKER not in text and base64.b64encode(MARKER) not in text
    assert base64.b64encode(blob) not in text


def test_a_refused_kms_call_is_recorded_with_its_error(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path)) as endpoint:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIDAUDIT", aws_secret_access_key="s")
        with pytest.raises(ClientError) as e:
            kms.describe_key(KeyId="alias/no-such-alias")
        assert e.value.response["Error"]["Code"] == "NotFoundException"
        records = [r for r in lines(path) if r["eventName"] == "DescribeKey"]
    assert len(records) == 1, records
    assert records[0]["errorCode"] == "NotFoundException"
    assert "alias/no-such-alias" in records[0]["errorMessage"]
    assert records[0]["readOnly"] is True and records[0]["userAgent"]


def test_rotation_keeps_the_configured_number_of_files(tmp_path):
    path = tmp_path / "audit.log"
    with rheo_server(audit_log=str(path), audit_log_max_bytes="2000", audit_log_keep="2") as endpoint:
        k = make_client(endpoint)
        for _ in range(40):
            k.list_streams()
        deadline = time.monotonic() + 5
        while not (tmp_path / "audit.log.2").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("audit.log"))
    assert files == ["audit.log", "audit.log.1", "audit.log.2"], files
    for p in tmp_path.iterdir():
        for line in p.read_text().splitlines():
            jsonschema.validate(json.loads(line), SCHEMA)
        assert p.stat().st_size <= 2000 + 4096
