"""Request bodies over the server's limit (16 MiB by default) are refused with HTTP 413, from the
declared Content-Length before any of the body is read, and change nothing."""

import http.client
import json
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, AMZ_JSON, REGION, SECRET_KEY, TARGET_PREFIX

LIMIT = 16 * 1024 * 1024


def _signed_headers(endpoint, op, body):
    hdrs = {"Content-Type": AMZ_JSON, "X-Amz-Target": f"{TARGET_PREFIX}.{op}"}
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kinesis", REGION).add_auth(req)
    return dict(req.headers.items())


def test_declared_oversized_body_is_refused_before_it_is_sent(endpoint):
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest("POST", "/")
        for k, v in _signed_headers(endpoint, "ListStreams", b"{}").items():
            if k.lower() != "content-length":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(100 * LIMIT))
        conn.endheaders()
        # Not one byte of the body is sent: the answer must come from the headers alone.
        resp = conn.getresponse()
        assert resp.status == 413
        resp.read()
    finally:
        conn.close()


def test_oversized_put_record_is_refused_and_writes_nothing(endpoint, kinesis, stream):
    name = stream(1)
    data = "A" * (LIMIT + 1024)  # already base64 text: the body alone is over the limit
    body = json.dumps({"StreamName": name, "PartitionKey": "k", "Data": data}).encode()
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", "/", body=body, headers=_signed_headers(endpoint, "PutRecord", body))
        resp = conn.getresponse()
        assert resp.status == 413
        resp.read()
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer and close before the client finished sending the body.
        pass
    finally:
        conn.close()
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []
