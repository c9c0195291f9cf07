"""The CBOR wire protocol (`application/x-amz-cbor-1.1`), spoken the way the AWS SDK for Java v2 speaks it.

The Java SDK v2 talks CBOR to Kinesis by default.  Its request bodies come out of Jackson's
CBORGenerator driven by the SDK's JSON marshaller, which gives:

* maps and arrays of INDEFINITE length (0xBF ... 0xFF, 0x9F ... 0xFF), because the marshaller never
  announces a size;
* text strings and byte strings of definite length, integers in their shortest form;
* blobs (``Data``) as CBOR byte strings, never base64 text;
* timestamps as semantic tag 1 wrapping an INTEGER number of epoch MILLISECONDS (the SDK's
  SdkCborGenerator writes ``writeTag(1); writeNumber(instant.toEpochMilli())``, milliseconds despite
  what RFC 8949 says tag 1 means).

On the way back the SDK reads timestamps as ``UNIX_TIMESTAMP_MILLIS``, so a response timestamp must be
an integer number of milliseconds; AWS sends it under tag 1 (``c1 1b ...``) and so must Rheo (the
tests require the tag on every response timestamp); blobs must be byte strings.

Requests are SigV4-signed raw POSTs (botocore's SigV4Auth), bodies decoded with ``cbor2``.
"""

import http.client
import time
import urllib.parse
import uuid

import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from khelpers import ACCOUNT, MAX_HASH_KEY, md5_hash_key, not_found_message, stream_arn, unique_name

AMZ_CBOR = "application/x-amz-cbor-1.1"
TARGET_PREFIX = "Kinesis_20131202"
REGION = "us-east-1"


# --------------------------------------------------------------------------- encoding like the Java SDK


class Timestamp:
    """A timestamp as the Java SDK v2 writes it: tag 1 + integer epoch milliseconds."""

    def __init__(self, millis):
        self.millis = int(millis)


class Untagged:
    """A timestamp written as a bare integer of epoch milliseconds (other CBOR clients)."""

    def __init__(self, millis):
        self.millis = int(millis)


def sdk_cbor(value):
    """Encode `value` as Jackson's CBORGenerator does under the SDK's marshaller: containers of
    indefinite length, leaves (text, bytes, ints, bools) in their definite, shortest form."""
    if isinstance(value, dict):
        out = bytearray(b"\xbf")
        for k, v in value.items():
            out += cbor2.dumps(k)
            out += sdk_cbor(v)
        out += b"\xff"
        return bytes(out)
    if isinstance(value, list):
        out = bytearray(b"\x9f")
        for v in value:
            out += sdk_cbor(v)
        out += b"\xff"
        return bytes(out)
    if isinstance(value, Timestamp):
        return b"\xc1" + cbor2.dumps(value.millis)
    if isinstance(value, Untagged):
        return cbor2.dumps(value.millis)
    assert isinstance(value, (str, bytes, bool, int)), f"not a Kinesis request leaf: {value!r}"
    return cbor2.dumps(value)


class Tag1:
    """A decoded tag-1 value, kept apart so a test can see what the server sent."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Tag1({self.value!r})"


def _tag1(*args):
    # cbor2 passes the already-decoded tagged item (plus an `immutable` flag); older releases
    # passed the decoder itself.
    first = args[0]
    if isinstance(first, cbor2.CBORDecoder):
        return Tag1(first.decode())
    return Tag1(first)


def decode(body):
    return cbor2.loads(body, semantic_decoders={1: _tag1})


def millis(value):
    """An epoch-milliseconds response timestamp: an integer inside tag 1, as AWS sends it."""
    assert isinstance(value, Tag1), f"response timestamp must be under CBOR tag 1, got {value!r}"
    value = value.value
    assert isinstance(value, int) and not isinstance(value, bool), (
        f"timestamp must be an integer number of epoch milliseconds, got {value!r}")
    return value


def assert_recent_millis(value, before_s, after_s, slack_ms=5000):
    ms = millis(value)
    assert before_s * 1000 - slack_ms <= ms <= after_s * 1000 + slack_ms, (
        f"timestamp {ms} is not epoch milliseconds between {before_s} and {after_s} s")
    return ms


# --------------------------------------------------------------------------- transport


class CborResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.doc = decode(body) if body else None

    @property
    def error_type(self):
        assert isinstance(self.doc, dict), f"error body is not a CBOR map: {self.body[:200]!r}"
        return str(self.doc.get("__type", "")).split("#")[-1]

    @property
    def message(self):
        return (self.doc or {}).get("message", (self.doc or {}).get("Message"))


@pytest.fixture(scope="module")
def cbor_post(endpoint):
    """cbor_post(op, body) -> CborResponse. `body` is a dict (SDK-style encoded) or raw bytes."""
    url = urllib.parse.urlsplit(endpoint)
    creds = Credentials("test", "test")

    def post(op, body):
        if not isinstance(body, (bytes, bytearray)):
            body = sdk_cbor(body)
        headers = {
            "Content-Type": AMZ_CBOR,
            "X-Amz-Target": f"{TARGET_PREFIX}.{op}",
            "User-Agent": "aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/21 Java/21 md/internal",
            "amz-sdk-invocation-id": str(uuid.uuid4()),
            "amz-sdk-request": "attempt=1; max=4",
        }
        req = AWSRequest(method="POST", url=endpoint + "/", data=bytes(body), headers=headers)
        SigV4Auth(creds, "kinesis", REGION).add_auth(req)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            conn.request("POST", "/", body=bytes(body), headers=dict(req.headers.items()))
            resp = conn.getresponse()
            return CborResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    return post


@pytest.fixture(scope="module")
def ccall(cbor_post):
    """ccall(op, payload) -> decoded CBOR document of a successful call (checked: 200, CBOR type)."""

    def do(op, payload):
        r = cbor_post(op, payload)
        assert r.status == 200, f"{op} failed: {r.status} {r.doc!r} {r.body[:300]!r}"
        assert r.headers.get("content-type", "").startswith(AMZ_CBOR), r.headers
        return r.doc

    return do


@pytest.fixture
def cbor_stream(ccall, cbor_post):
    """Factory: create a stream over CBOR, wait ACTIVE over CBOR, delete at teardown."""
    names = []

    def make(shards):
        name = unique_name("cbor")
        r = cbor_post("CreateStream", {"StreamName": name, "ShardCount": shards})
        # CreateStream has no output members: AWS sends no body at all.
        assert r.status == 200 and r.body == b"", (r.status, r.body)
        assert r.headers.get("content-length") == "0", r.headers
        names.append(name)
        wait_active(ccall, name)
        return name

    yield make
    for name in names:
        cbor_post("DeleteStream", {"StreamName": name, "EnforceConsumerDeletion": True})


def wait_active(ccall, name, timeout=15):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = ccall("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} stayed {status}")


def list_shards(ccall, name):
    return ccall("ListShards", {"StreamName": name})["Shards"]


def shard_iterator(ccall, name, shard_id, kind, **kw):
    doc = ccall("GetShardIterator", {"StreamName": name, "ShardId": shard_id, "ShardIteratorType": kind, **kw})
    it = doc["ShardIterator"]
    assert isinstance(it, str) and it, doc
    return it


def read_shard(ccall, iterator, max_calls=20):
    """Follow an iterator until a call returns nothing; check every GetRecords response's shape."""
    records = []
    for _ in range(max_calls):
        doc = ccall("GetRecords", {"ShardIterator": iterator, "Limit": 1000})
        assert isinstance(doc["Records"], list), doc
        ms_behind = doc["MillisBehindLatest"]
        assert isinstance(ms_behind, int) and not isinstance(ms_behind, bool) and ms_behind >= 0, doc
        records += doc["Records"]
        nxt = doc.get("NextShardIterator")
        if not doc["Records"] or not nxt:
            return records
        assert isinstance(nxt, str)
        iterator = nxt
    return records


# --------------------------------------------------------------------------- the encoder itself


def test_sdk_encoder_matches_jackson_layout():
    # The exact bytes Jackson + the SDK produce for {"Timestamp": <tag 1, 1700000000123 ms>, "Data": b"\x00"}.
    assert sdk_cbor({"Timestamp": Timestamp(1700000000123), "Data": b"\x00"}) == (
        b"\xbf" + b"\x69Timestamp" + b"\xc1\x1b" + (1700000000123).to_bytes(8, "big")
        + b"\x64Data" + b"\x41\x00" + b"\xff")
    assert sdk_cbor({"Records": [{"A": 1}]}) == b"\xbf\x67Records\x9f\xbf\x61A\x01\xff\xff\xff"
    # ...and cbor2 reads it back the same, tag 1 kept visible.
    doc = decode(sdk_cbor({"T": Timestamp(5), "L": [1, "x", b"y"]}))
    assert isinstance(doc["T"], Tag1) and doc["T"].value == 5
    assert doc["L"] == [1, "x", b"y"]


# --------------------------------------------------------------------------- operations


def test_create_stream_and_describe_summary(ccall, cbor_stream):
    before = time.time()
    name = cbor_stream(2)
    after = time.time()
    summary = ccall("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
    assert summary["StreamName"] == name
    assert summary["StreamARN"] == stream_arn(name)
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 2
    assert summary["RetentionPeriodHours"] == 24
    assert summary["EncryptionType"] == "NONE"
    assert_recent_millis(summary["StreamCreationTimestamp"], before, after)


def test_timestamps_are_tag_1_integer_millis_on_the_wire(cbor_post, cbor_stream):
    # AWS's bytes for a timestamp: tag 1 (0xc1), then an 8-byte unsigned integer (0x1b) of epoch ms.
    before = time.time()
    name = cbor_stream(1)
    after = time.time()
    r = cbor_post("DescribeStreamSummary", {"StreamName": name})
    assert r.status == 200, r.doc
    created = r.doc["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    ms = assert_recent_millis(created, before, after)
    assert b"\xc1\x1b" + ms.to_bytes(8, "big") in r.body
    listed = cbor_post("ListStreams", {})
    assert listed.status == 200, listed.doc
    summaries = [s for s in listed.doc["StreamSummaries"] if s["StreamName"] == name]
    assert len(summaries) == 1 and millis(summaries[0]["StreamCreationTimestamp"]) == ms


def test_operations_without_output_members_answer_an_empty_body(cbor_post, cbor_stream):
    name = cbor_stream(1)
    for op, payload in [
        ("AddTagsToStream", {"StreamName": name, "Tags": {"k": "v"}}),
        ("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["k"]}),
    ]:
        r = cbor_post(op, payload)
        assert r.status == 200 and r.body == b"", (op, r.status, r.body)
        assert r.headers.get("content-length") == "0", (op, r.headers)
    # An operation with output members still answers a CBOR map.
    r = cbor_post("ListTagsForStream", {"StreamName": name})
    assert r.status == 200 and r.doc == {"Tags": [], "HasMoreTags": False}, r.doc


def test_put_record_and_get_records_roundtrip(ccall, cbor_stream):
    name = cbor_stream(1)
    shard = "shardId-000000000000"
    # Every byte value, including ones that are not valid UTF-8: a byte string must carry them as is.
    payloads = [bytes(range(256)), b"\x00", b"\xff\xfe\xfd", "h\u00e9llo".encode()]
    put = []
    before = time.time()
    for i, data in enumerate(payloads):
        doc = ccall("PutRecord", {"StreamName": name, "PartitionKey": f"pk{i}", "Data": data})
        assert doc["ShardId"] == shard, doc
        assert isinstance(doc["SequenceNumber"], str) and doc["SequenceNumber"].isdigit(), doc
        put.append(doc["SequenceNumber"])
    after = time.time()
    assert [int(s) for s in put] == sorted(int(s) for s in put) and len(set(put)) == len(put)

    records = read_shard(ccall, shard_iterator(ccall, name, shard, "TRIM_HORIZON"))
    assert len(records) == len(payloads)
    for i, (rec, data, seq) in enumerate(zip(records, payloads, put)):
        assert isinstance(rec["Data"], bytes), f"Data must be a CBOR byte string, got {type(rec['Data'])}"
        assert rec["Data"] == data
        assert rec["PartitionKey"] == f"pk{i}"
        assert rec["SequenceNumber"] == seq
        assert_recent_millis(rec["ApproximateArrivalTimestamp"], before, after)


@pytest.mark.modern
def test_partial_put_records_fault_over_cbor_writes_only_the_records_answered_ok(
    ccall, cbor_stream, faults
):
    name = cbor_stream(1)
    faults(operation="PutRecords", stream=name, partial_fraction=0.5)
    entries = [{"Data": f"r{i}".encode(), "PartitionKey": "k"} for i in range(4)]
    doc = ccall("PutRecords", {"StreamName": name, "Records": entries})
    assert doc["FailedRecordCount"] == 2, doc
    codes = [r.get("ErrorCode") for r in doc["Records"]]
    assert codes == [None, "ProvisionedThroughputExceededException"] * 2, doc
    it = shard_iterator(ccall, name, "shardId-000000000000", "TRIM_HORIZON")
    assert [r["Data"] for r in read_shard(ccall, it)] == [b"r0", b"r2"]


def test_put_records_and_get_records(ccall, cbor_stream):
    name = cbor_stream(2)
    shards = list_shards(ccall, name)
    entries = [{"Data": f"rec-{i}".encode() + bytes([i, 0, 255]), "PartitionKey": f"key-{i}"} for i in range(10)]
    # An explicit hash key at the very top of the key space lands on the last shard whatever the key.
    entries.append({"Data": b"\x01explicit", "PartitionKey": "ignored", "ExplicitHashKey": str(MAX_HASH_KEY)})
    before = time.time()
    doc = ccall("PutRecords", {"StreamName": name, "Records": entries})
    after = time.time()
    assert doc["FailedRecordCount"] == 0, doc
    assert len(doc["Records"]) == len(entries)

    def shard_of(hash_key):
        for s in shards:
            r = s["HashKeyRange"]
            if int(r["StartingHashKey"]) <= hash_key <= int(r["EndingHashKey"]):
                return s["ShardId"]
        raise AssertionError(hash_key)

    expected = {}
    for entry, result in zip(entries, doc["Records"]):
        assert "ErrorCode" not in result, result
        hash_key = int(entry["ExplicitHashKey"]) if "ExplicitHashKey" in entry else md5_hash_key(entry["PartitionKey"])
        assert result["ShardId"] == shard_of(hash_key), (entry, result)
        expected.setdefault(result["ShardId"], []).append((result["SequenceNumber"], entry))
    assert expected[shards[-1]["ShardId"]][-1][1]["Data"] == b"\x01explicit"

    for shard in shards:
        sid = shard["ShardId"]
        records = read_shard(ccall, shard_iterator(ccall, name, sid, "TRIM_HORIZON"))
        want = expected.get(sid, [])
        assert [r["SequenceNumber"] for r in records] == [s for s, _ in want]
        for rec, (_, entry) in zip(records, want):
            assert isinstance(rec["Data"], bytes)
            assert rec["Data"] == entry["Data"]
            assert rec["PartitionKey"] == entry["PartitionKey"]
            assert_recent_millis(rec["ApproximateArrivalTimestamp"], before, after)


def test_definite_length_request_is_accepted_too(ccall, cbor_post, cbor_stream):
    # Other CBOR clients (cbor2 here) announce container sizes: the same request must work.
    name = cbor_stream(1)
    r = cbor_post("PutRecord", cbor2.dumps({"StreamName": name, "PartitionKey": "k", "Data": b"\x00def"}))
    assert r.status == 200, r.doc
    seq = r.doc["SequenceNumber"]
    it = shard_iterator(ccall, name, "shardId-000000000000", "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)
    records = read_shard(ccall, it)
    assert [(x["Data"], x["SequenceNumber"]) for x in records] == [(b"\x00def", seq)]


@pytest.mark.parametrize("encoding", [Timestamp, Untagged], ids=["sdk-tag1-millis", "bare-int-millis"])
def test_get_shard_iterator_at_timestamp_in_millis(ccall, cbor_post, cbor_stream, encoding):
    """AT_TIMESTAMP with millisecond precision: the boundary falls between two records put ~300 ms
    apart, so a server that read the number as seconds, or dropped the milliseconds, would fail."""
    name = cbor_stream(1)
    shard = "shardId-000000000000"
    ccall("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": b"first"})
    time.sleep(0.3)
    ccall("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": b"second"})
    time.sleep(0.3)
    ccall("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": b"third"})
    records = read_shard(ccall, shard_iterator(ccall, name, shard, "TRIM_HORIZON"))
    assert [r["Data"] for r in records] == [b"first", b"second", b"third"]
    arrivals = [millis(r["ApproximateArrivalTimestamp"]) for r in records]
    assert arrivals[0] < arrivals[1] < arrivals[2], arrivals

    def at(ms):
        it = shard_iterator(ccall, name, shard, "AT_TIMESTAMP", Timestamp=encoding(ms))
        return [r["Data"] for r in read_shard(ccall, it)]

    # Inclusive at the exact arrival time, exclusive one millisecond later.
    assert at(arrivals[1]) == [b"second", b"third"]
    assert at(arrivals[0] + 1) == [b"second", b"third"]
    assert at(arrivals[1] + 1) == [b"third"]
    assert at(arrivals[0] - 60_000) == [b"first", b"second", b"third"]
    # A timestamp in the future is refused, as AWS does.
    future = int(time.time() * 1000) + 3_600_000
    r = cbor_post("GetShardIterator", {"StreamName": name, "ShardId": shard,
                                       "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": encoding(future)})
    assert r.status == 400 and r.error_type == "InvalidArgumentException", r.doc
    assert r.message.startswith("The timestampInMillis parameter cannot be greater than the "
                                f"currentTimestampInMillis. timestampInMillis: {future}, "
                                "currentTimestampInMillis: "), r.message


def test_list_shards(ccall, cbor_stream):
    name = cbor_stream(3)
    shards = list_shards(ccall, name)
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    expected_start = 0
    for s in shards:
        r = s["HashKeyRange"]
        assert isinstance(r["StartingHashKey"], str) and isinstance(r["EndingHashKey"], str), r
        assert int(r["StartingHashKey"]) == expected_start
        expected_start = int(r["EndingHashKey"]) + 1
        start_seq = s["SequenceNumberRange"]["StartingSequenceNumber"]
        assert isinstance(start_seq, str) and start_seq.isdigit()
        assert "EndingSequenceNumber" not in s["SequenceNumberRange"]
    assert expected_start == MAX_HASH_KEY + 1

    # Pagination over CBOR: MaxResults, then NextToken alone.
    page = ccall("ListShards", {"StreamName": name, "MaxResults": 2})
    assert [s["ShardId"] for s in page["Shards"]] == [s["ShardId"] for s in shards[:2]]
    assert isinstance(page["NextToken"], str) and page["NextToken"]
    rest = ccall("ListShards", {"NextToken": page["NextToken"]})
    assert [s["ShardId"] for s in rest["Shards"]] == [shards[2]["ShardId"]]
    assert "NextToken" not in rest


def test_resource_not_found_is_a_cbor_error(cbor_post):
    name = unique_name("missing")
    r = cbor_post("DescribeStreamSummary", {"StreamName": name})
    assert r.status == 400
    assert r.headers.get("content-type", "").startswith(AMZ_CBOR), r.headers
    assert isinstance(r.doc, dict), r.body[:200]
    assert r.error_type == "ResourceNotFoundException"
    assert r.message == not_found_message(name)
    assert ACCOUNT in r.message

    r = cbor_post("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": b"x"})
    assert r.status == 400
    assert r.headers.get("content-type", "").startswith(AMZ_CBOR)
    assert r.error_type == "ResourceNotFoundException"


@pytest.mark.parametrize("body", [
    b"\xbf",                        # indefinite map never closed
    b"\xbf\x6aStreamName",          # key with no value, map never closed
    b"\xa2\x6aStreamName\x61x",     # map announces two pairs, has one
    b"\x7b\x00\x00\x00\x00\x00\x00\x00\xff",  # text string longer than the body
    b"\x1c",                        # reserved additional-information value
    b"\xff",                        # a lone "break"
    b"{\"StreamName\": \"x\"}",    # JSON sent under the CBOR content type
], ids=["open-map", "dangling-key", "short-map", "long-string", "reserved-ai", "lone-break", "json"])
def test_malformed_cbor_is_serialization_exception(cbor_post, body):
    r = cbor_post("DescribeStreamSummary", body)
    assert r.status == 400, (body, r.status, r.body[:200])
    assert r.headers.get("content-type", "").startswith(AMZ_CBOR), r.headers
    assert r.error_type == "SerializationException", (body, r.doc)


def test_wrong_cbor_types_are_serialization_exceptions(cbor_post):
    cases = [
        ("DescribeStreamSummary", {"StreamName": 123}),
        ("CreateStream", {"StreamName": "x", "ShardCount": "three"}),
        ("PutRecords", {"StreamName": "x", "Records": {"not": "a list"}}),
    ]
    for op, payload in cases:
        r = cbor_post(op, payload)
        assert r.status == 400, (op, payload, r.doc)
        assert r.headers.get("content-type", "").startswith(AMZ_CBOR)
        assert r.error_type == "SerializationException", (op, payload, r.doc)


def test_subscribe_to_shard_over_cbor_is_an_event_stream_of_cbor_events(ccall, cbor_post, cbor_stream):
    # The Java SDK v2's enhanced fan-out: the request is CBOR, the answer an event stream whose
    # payloads are CBOR. The session here is 3 s (--subscription-ms), so the whole stream is read.
    from botocore.eventstream import EventStreamBuffer

    name = cbor_stream(1)
    arn = stream_arn(name)
    consumer = ccall("RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "java"})["Consumer"]
    deadline = time.time() + 10
    while ccall("DescribeStreamConsumer", {"ConsumerARN": consumer["ConsumerARN"]})[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.05)
    for i in range(5):
        ccall("PutRecord", {"StreamName": name, "Data": f"cbor-{i}".encode(), "PartitionKey": f"k{i}"})
    before = time.time()
    r = cbor_post("SubscribeToShard", {
        "ConsumerARN": consumer["ConsumerARN"],
        "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"},
    })
    assert r.status == 200, r.body[:200]
    assert r.headers.get("content-type") == "application/vnd.amazon.eventstream", r.headers
    buf = EventStreamBuffer()
    buf.add_data(r.body)
    messages = list(buf)
    kinds = [m.headers.get(":event-type") for m in messages]
    assert kinds[0] == "initial-response", kinds
    events = [cbor2.loads(m.payload, semantic_decoders={1: _tag1})
              for m in messages if m.headers.get(":event-type") == "SubscribeToShardEvent"]
    assert events, kinds
    records = [rec for e in events for rec in e["Records"]]
    assert [rec["Data"] for rec in records] == [f"cbor-{i}".encode() for i in range(5)]
    for rec in records:
        assert_recent_millis(rec["ApproximateArrivalTimestamp"], before - 60, time.time())
    assert all(m.headers.get(":message-type") == "event" for m in messages)
    assert events[-1]["ContinuationSequenceNumber"] == records[-1]["SequenceNumber"]
