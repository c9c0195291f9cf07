"""SigV4 verification (`--auth sigv4 --credentials FILE`) through botocore's own signers.

Each refusal is compared field by field (`__type`, message, HTTP status) with the answer AWS
documents for it. Requests that need a shifted clock, a tampered body or a presigned URL are
signed with botocore.auth.SigV4Auth / SigV4QueryAuth and sent with http.client, so that what
reaches the server is exactly what botocore signed (or one changed byte of it)."""

import datetime
import http.client
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from unittest import mock

import boto3
import botocore.auth
import cbor2
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import AMZ_JSON, REGION, TARGET_PREFIX, rheo_server
from khelpers import unique_name, wait_status

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RHEO_ENDPOINT")), reason="starts its own servers with --auth flags"
)

ALICE = ("AKIDALICE", "alice-secret", "111111111111")
BOB = ("AKIDBOB", "bob-secret", "222222222222")
TEMP = ("ASIATEMP", "temp-secret", "111111111111", "temp-session-token")

# This suite is about authentication: every principal is allowed everything, so that only the
# signature decides (authorization has its own suite, test_policies.py).
ALLOW_ALL = """'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'"""

CREDENTIALS = f"""
[[principal]]
access_key_id = "{ALICE[0]}"
secret_access_key = "{ALICE[1]}"
account = "{ALICE[2]}"
arn = "arn:aws:iam::{ALICE[2]}:user/alice"
policies = [{ALLOW_ALL}]

[[principal]]
access_key_id = "{BOB[0]}"
secret_access_key = "{BOB[1]}"
account = "{BOB[2]}"
policies = [{ALLOW_ALL}]

[[principal]]
access_key_id = "{TEMP[0]}"
secret_access_key = "{TEMP[1]}"
account = "{TEMP[2]}"
arn = "arn:aws:sts::{TEMP[2]}:assumed-role/writer/session"
session_token = "{TEMP[3]}"
policies = [{ALLOW_ALL}]
"""

# AWS's answers, as its JSON services send them.
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
UNRECOGNIZED = {
    "type": "UnrecognizedClientException",
    "message": "The security token included in the request is invalid.",
    "status": 400,
}
STAMP = r"(\d{8}T\d{6}Z)"


@pytest.fixture(scope="module")
def creds_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sigv4") / "credentials.toml"
    path.write_text(CREDENTIALS)
    return str(path)


@pytest.fixture(scope="module")
def sigv4(creds_file):
    with rheo_server(auth="sigv4", credentials=creds_file) as url:
        yield url


@pytest.fixture(scope="module")
def permissive(creds_file):
    with rheo_server(auth="permissive", credentials=creds_file) as url:
        yield url


def client(endpoint, key, secret, token=None):
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def signed(endpoint, op, body, key, secret, token=None, at=None, content_type=AMZ_JSON):
    """An AWSRequest for `op` signed by botocore at `at` (a UTC datetime; now by default)."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    req = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": content_type, "X-Amz-Target": f"{TARGET_PREFIX}.{op}"},
    )
    signer = SigV4Auth(Credentials(key, secret, token), "kinesis", REGION)
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
            signer.add_auth(req)
    return req


def send(endpoint, method, url, headers, body):
    """(status, headers, body bytes) of one request exactly as given."""
    u = urllib.parse.urlsplit(url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def answer(endpoint, req, body=None):
    """{type, message, status} of sending `req` (with `body` instead of the signed one)."""
    status, headers, raw = send(
        endpoint, req.method, req.url, req.headers.items(), req.body if body is None else body
    )
    if headers.get("content-type", "").startswith("application/x-amz-cbor"):
        doc = cbor2.loads(raw) if raw else {}
    else:
        doc = json.loads(raw) if raw else {}
    return {
        "type": doc.get("__type", "").split("#")[-1],
        "message": doc.get("message", doc.get("Message")),
        "status": status,
        "doc": doc,
    }


def fields(a):
    return {k: a[k] for k in ("type", "message", "status")}


def utc(delta_seconds=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_seconds)


def basic(ts):
    return datetime.datetime.strptime(ts, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


# --------------------------------------------------------------------------- accepted


def test_the_right_key_works_and_acts_in_its_account(sigv4):
    k = client(sigv4, *ALICE[:2])
    name = unique_name()
    k.create_stream(StreamName=name, ShardCount=1)
    wait_status(k, name, "ACTIVE")
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    assert arn == f"arn:aws:kinesis:{REGION}:{ALICE[2]}:stream/{name}"
    put = k.put_record(StreamName=name, Data=b"hello", PartitionKey="p")
    assert put["ShardId"] == "shardId-000000000000"
    out = k.put_records(
        StreamName=name, Records=[{"Data": b"x" * 1000, "PartitionKey": str(i)} for i in range(20)]
    )
    assert out["FailedRecordCount"] == 0
    k.delete_stream(StreamName=name)


def test_a_raw_request_signed_by_botocore_is_accepted(sigv4):
    a = answer(sigv4, signed(sigv4, "ListStreams", {}, *ALICE[:2]))
    assert a["status"] == 200, a
    assert "StreamNames" in a["doc"]


def test_the_aws_cli_with_the_right_key(sigv4, tmp_path):
    exe = shutil.which("aws")
    assert exe, "the AWS CLI is part of requirements-test.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ALICE[0], AWS_SECRET_ACCESS_KEY=ALICE[1], AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "c"),
        AWS_MAX_ATTEMPTS="1", AWS_PAGER="",
    )
    base = [exe, "kinesis", "--endpoint-url", sigv4, "--output", "json"]
    p = subprocess.run(base + ["list-streams"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "StreamNames" in json.loads(p.stdout)
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    p = subprocess.run(base + ["list-streams"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "(InvalidSignatureException)" in p.stderr and MISMATCH in p.stderr, p.stderr


# --------------------------------------------------------------------------- refused


def test_a_wrong_secret_gets_invalid_signature_with_the_expected_strings(sigv4):
    req = signed(sigv4, "ListStreams", {}, ALICE[0], "not-alice-secret")
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    # As AWS's JSON services do, the message carries what the server expected to be signed:
    # botocore's own canonical request of what it sent.
    stamp = req.context["timestamp"]
    probe = AWSRequest(
        method="POST", url=req.url, data=req.body,
        headers={k: v for k, v in req.headers.items() if k.lower() != "authorization"},
    )
    probe.context["timestamp"] = stamp
    canonical = SigV4Auth(Credentials(*ALICE[:2]), "kinesis", REGION).canonical_request(probe)
    assert a["message"].startswith(
        MISMATCH + f"\n\nThe Canonical String for this request should have been\n'{canonical}'"
    ), a["message"]
    assert f"\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n{stamp}\n" in a["message"]
    # botocore maps it to the same exception.
    with pytest.raises(ClientError) as e:
        client(sigv4, ALICE[0], "not-alice-secret").list_streams()
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Message"].startswith(MISMATCH)


def test_an_unknown_key_gets_unrecognized_client(sigv4):
    a = answer(sigv4, signed(sigv4, "ListStreams", {}, "AKIDNOBODY", "whatever"))
    assert fields(a) == UNRECOGNIZED
    with pytest.raises(ClientError) as e:
        client(sigv4, "AKIDNOBODY", "x").list_streams()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["Error"]["Message"] == UNRECOGNIZED["message"]


def test_a_clock_ten_minutes_slow_gets_signature_expired(sigv4):
    req = signed(sigv4, "ListStreams", {}, *ALICE[:2], at=utc(-600))
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    stamp = req.context["timestamp"]
    m = re.fullmatch(
        rf"Signature expired: {stamp} is now earlier than {STAMP} \({STAMP} - 5 min\.\)", a["message"]
    )
    assert m, a["message"]
    limit, now = basic(m.group(1)), basic(m.group(2))
    assert now - limit == datetime.timedelta(minutes=5)
    assert abs((now - utc()).total_seconds()) < 5


def test_a_clock_ten_minutes_fast_gets_signature_not_yet_current(sigv4):
    req = signed(sigv4, "ListStreams", {}, *ALICE[:2], at=utc(600))
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    stamp = req.context["timestamp"]
    m = re.fullmatch(
        rf"Signature not yet current: {stamp} is still later than {STAMP} \({STAMP} \+ 5 min\.\)",
        a["message"],
    )
    assert m, a["message"]
    assert basic(m.group(1)) - basic(m.group(2)) == datetime.timedelta(minutes=5)


def test_a_clock_four_minutes_off_is_still_accepted(sigv4):
    for delta in (-240, 240):
        a = answer(sigv4, signed(sigv4, "ListStreams", {}, *ALICE[:2], at=utc(delta)))
        assert a["status"] == 200, (delta, a)


def test_a_tampered_body_gets_invalid_signature(sigv4):
    body = json.dumps({"StreamName": "tamper-check"}).encode()
    req = signed(sigv4, "DescribeStreamSummary", body, *ALICE[:2])
    tampered = body.replace(b"tamper-check", b"tamper-checl")
    a = answer(sigv4, req, body=tampered)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    assert a["message"].startswith(MISMATCH)


def test_a_malformed_signature_gets_invalid_signature(sigv4):
    req = signed(sigv4, "ListStreams", {}, *ALICE[:2])
    req.headers["Authorization"] = re.sub(r"Signature=\w+", "Signature=nothex", req.headers["Authorization"])
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    assert a["message"].startswith(MISMATCH)


def test_a_missing_signature_part_gets_incomplete_signature(sigv4):
    req = signed(sigv4, "ListStreams", {}, *ALICE[:2])
    auth = re.sub(r", Signature=\w+", "", req.headers["Authorization"])
    req.headers["Authorization"] = auth
    a = answer(sigv4, req)
    assert fields(a) == {
        "type": "IncompleteSignatureException",
        "message": f"Authorization header requires 'Signature' parameter. Authorization={auth}",
        "status": 400,
    }


def test_an_unsigned_request_gets_missing_authentication_token(sigv4):
    status, _, raw = send(
        sigv4, "POST", sigv4 + "/", {"Content-Type": AMZ_JSON, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"}, b"{}"
    )
    doc = json.loads(raw)
    assert (doc["__type"].split("#")[-1], doc["message"], status) == (
        "MissingAuthenticationTokenException", "Missing Authentication Token", 400,
    )


def test_session_tokens_right_missing_and_wrong(sigv4):
    key, secret, _, token = TEMP
    assert client(sigv4, key, secret, token).list_streams()["StreamNames"] is not None
    for bad in (None, "not-the-token"):
        a = answer(sigv4, signed(sigv4, "ListStreams", {}, key, secret, token=bad))
        assert fields(a) == UNRECOGNIZED, bad
    # A long-term key does not take a token.
    a = answer(sigv4, signed(sigv4, "ListStreams", {}, *ALICE[:2], token="stray"))
    assert fields(a) == UNRECOGNIZED


def test_a_chunked_payload_is_refused(sigv4):
    req = signed(sigv4, "ListStreams", {}, *ALICE[:2])
    req.headers["X-Amz-Content-SHA256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    assert "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" in a["message"]


def test_errors_reach_cbor_clients_in_cbor(sigv4):
    body = cbor2.dumps({})
    req = signed(sigv4, "ListStreams", body, ALICE[0], "wrong", content_type="application/x-amz-cbor-1.1")
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    assert a["message"].startswith(MISMATCH)
    req = signed(sigv4, "ListStreams", body, *ALICE[:2], content_type="application/x-amz-cbor-1.1")
    assert answer(sigv4, req)["status"] == 200


# --------------------------------------------------------------------------- presigned


def presigned(endpoint, key, secret, expires, at=None):
    req = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=b"",
        headers={"Content-Type": AMZ_JSON, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"},
    )
    signer = SigV4QueryAuth(Credentials(key, secret), "kinesis", REGION, expires=expires)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at or utc()):
        signer.add_auth(req)
    return req


def test_a_presigned_request_is_accepted_within_its_expiry(sigv4):
    # Signed 10 minutes ago, valid for an hour: past the header skew, within X-Amz-Expires.
    req = presigned(sigv4, *ALICE[:2], expires=3600, at=utc(-600))
    assert "X-Amz-Signature=" in req.url
    # botocore's query signer moves a JSON body's members into the query and sends no body,
    # which a Kinesis operation cannot decode: past authentication, the decoder answers.
    assert req.body in (b"", "", None)
    a = answer(sigv4, req)
    assert fields(a) == {"type": "SerializationException", "message": None, "status": 400}, a


def test_an_expired_presigned_request_is_refused(sigv4):
    req = presigned(sigv4, *ALICE[:2], expires=60, at=utc(-600))
    a = answer(sigv4, req)
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    stamp = req.context["timestamp"]
    m = re.fullmatch(
        rf"Signature expired: {stamp} is now earlier than {STAMP} \({STAMP} - 60 sec\.\)", a["message"]
    )
    assert m, a["message"]
    assert basic(m.group(2)) - basic(m.group(1)) == datetime.timedelta(seconds=60)


def test_a_presigned_request_with_a_wrong_secret_is_refused(sigv4):
    a = answer(sigv4, presigned(sigv4, ALICE[0], "wrong", expires=300))
    assert (a["type"], a["status"]) == ("InvalidSignatureException", 400)
    assert a["message"].startswith(MISMATCH)


# --------------------------------------------------------------------------- namespacing


def test_streams_are_namespaced_by_account(sigv4):
    alice, bob = client(sigv4, *ALICE[:2]), client(sigv4, *BOB[:2])
    name = unique_name()
    alice.create_stream(StreamName=name, ShardCount=1)
    wait_status(alice, name, "ACTIVE")
    # Bob does not see Alice's stream and can create his own of the same name.
    with pytest.raises(ClientError) as e:
        bob.describe_stream_summary(StreamName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert name not in bob.list_streams()["StreamNames"]
    bob.create_stream(StreamName=name, ShardCount=2)
    wait_status(bob, name, "ACTIVE")
    a = alice.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    b = bob.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert a["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ALICE[2]}:stream/{name}"
    assert b["StreamARN"] == f"arn:aws:kinesis:{REGION}:{BOB[2]}:stream/{name}"
    assert (a["OpenShardCount"], b["OpenShardCount"]) == (1, 2)
    alice.put_record(StreamName=name, Data=b"alice's", PartitionKey="p")
    it = bob.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    assert bob.get_records(ShardIterator=it["ShardIterator"])["Records"] == []
    # The temporary key of Alice's account sees her stream.
    temp = client(sigv4, TEMP[0], TEMP[1], TEMP[3])
    assert name in temp.list_streams()["StreamNames"]
    alice.delete_stream(StreamName=name)
    bob.delete_stream(StreamName=name)


def test_permissive_mode_takes_listed_accounts_and_the_default_otherwise(permissive):
    name = unique_name()
    alice = client(permissive, ALICE[0], "any-secret-is-fine")
    alice.create_stream(StreamName=name, ShardCount=1)
    wait_status(alice, name, "ACTIVE")
    arn = alice.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    assert arn == f"arn:aws:kinesis:{REGION}:{ALICE[2]}:stream/{name}"
    other = client(permissive, "AKIDUNLISTED", "x")
    assert name not in other.list_streams()["StreamNames"]
    other.create_stream(StreamName=name, ShardCount=1)
    wait_status(other, name, "ACTIVE")
    arn = other.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    assert arn == f"arn:aws:kinesis:{REGION}:000000000000:stream/{name}"


# --------------------------------------------------------------------------- startup


def test_sigv4_without_credentials_is_a_startup_error():
    binary = os.environ.get("RHEO_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "rheo")
    p = subprocess.run(
        [binary, "serve", "--in-memory", "--port", "0", "--auth", "sigv4"],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("RHEO_")},
    )
    assert p.returncode != 0
    assert "--auth sigv4 needs --credentials FILE" in p.stderr, p.stderr


def test_a_bad_credentials_file_is_a_startup_error(tmp_path):
    bad = tmp_path / "creds.toml"
    bad.write_text('[[principal]]\naccess_key_id = "A"\nsecret_access_key = "s"\naccount = "12"\n')
    binary = os.environ.get("RHEO_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "rheo")
    p = subprocess.run(
        [binary, "serve", "--in-memory", "--port", "0", "--auth", "sigv4", "--credentials", str(bad)],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("RHEO_")},
    )
    assert p.returncode != 0
    assert "account must be 12 digits, not '12'" in p.stderr, p.stderr
    assert str(bad) in p.stderr


def test_kms_requests_pass_the_same_gate(sigv4):
    """KMS shares the port, so it shares the check: a wrong secret or an unknown key is refused
    before the KMS sees the request, and the right key acts in its own account."""
    def kms(key, secret):
        return boto3.session.Session().client(
            "kms", endpoint_url=sigv4, region_name=REGION, aws_access_key_id=key,
            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        kms(ALICE[0], "not-alice-secret").list_keys()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["Error"]["Message"].startswith(MISMATCH)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        kms("AKIDNOBODY", "x").list_keys()
    assert e.value.response["Error"]["Code"] == UNRECOGNIZED["type"]
    assert e.value.response["Error"]["Message"] == UNRECOGNIZED["message"]
    arn = kms(ALICE[0], ALICE[1]).create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith(f"arn:aws:kms:{REGION}:{ALICE[2]}:key/")


def _ready_line(*args):
    """The first stdout line of `rheo serve ARGS` (its ready line), the server stopped after."""
    binary = os.environ.get("RHEO_BIN", os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "target", "debug", "rheo"))
    proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0",
                             "--in-memory", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        return proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_ready_line_says_which_auth_mode_is_on(creds_file):
    assert re.fullmatch(r"rheo ready on http://127\.0\.0\.1:\d+ \(auth: permissive\)",
                        _ready_line()), "the default is permissive and says so"
    assert re.fullmatch(r"rheo ready on http://127\.0\.0\.1:\d+ \(auth: sigv4 \(3 keys\)\)",
                        _ready_line("--auth", "sigv4", "--credentials", creds_file))
