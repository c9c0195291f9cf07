"""Wire-level behaviour with hand-made requests: serialization errors, unknown operations,
authentication errors, response headers.

MissingAuthenticationTokenException / IncompleteSignatureException are asserted as HTTP 400
with a JSON body when the request carries the JSON content type: kinesalite's connection tests,
written to pass against real AWS, expect exactly that (403 is what AWS sends for requests it
cannot parse as JSON-protocol calls, answered in XML).
"""

import json

from khelpers import unique_name, wait_gone, wait_status


def test_success_headers(raw_post):
    r = raw_post("ListStreams", b"{}")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/x-amz-json-1.1")
    assert r.headers.get("x-amzn-requestid")
    assert isinstance(r.json["StreamNames"], list)


def test_malformed_json_is_serialization_exception(raw_post):
    for body in (b"{", b"hello", b'{"StreamName": }'):
        r = raw_post("ListStreams", body)
        assert r.status == 400, body
        assert r.error_type == "SerializationException", body


def test_empty_body_is_serialization_exception_without_message(raw_post):
    # AWS answers a body-less request with a bare {"__type": "SerializationException"}.
    r = raw_post("ListStreams", b"")
    assert r.status == 400
    assert r.error_type == "SerializationException"
    assert r.json == {"__type": "SerializationException"}


def test_wrong_json_types_are_serialization_exceptions(raw_post):
    cases = [
        ("CreateStream", {"StreamName": "x", "ShardCount": "three"}),
        ("CreateStream", {"StreamName": 123, "ShardCount": 1}),
        ("DescribeStream", {"StreamName": ["a"]}),
        ("ListStreams", {"Limit": True}),
        ("PutRecord", {"StreamName": "x", "PartitionKey": "p", "Data": 5}),
        ("PutRecords", {"StreamName": "x", "Records": {"not": "a list"}}),
        ("AddTagsToStream", {"StreamName": "x", "Tags": ["not", "a", "map"]}),
    ]
    for op, payload in cases:
        r = raw_post(op, json.dumps(payload).encode())
        assert r.status == 400, (op, payload, r.body)
        assert r.error_type == "SerializationException", (op, payload, r.body)


def test_unknown_operation(raw_post):
    r = raw_post("Kinesis_20131202.FlyToTheMoon", b"{}")
    assert r.status == 400
    assert r.error_type == "UnknownOperationException"
    r = raw_post("SomeOtherService_20131202.ListStreams", b"{}")
    assert r.status == 400
    assert r.error_type == "UnknownOperationException"


def test_missing_target(raw_post):
    r = raw_post(None, b"{}")
    assert r.status == 400
    assert r.error_type == "UnknownOperationException"


def test_missing_authorization(raw_post):
    r = raw_post("ListStreams", b"{}", sign=False)
    assert r.status == 400
    assert r.error_type == "MissingAuthenticationTokenException"
    assert r.message == "Missing Authentication Token"


def test_malformed_authorization(raw_post):
    r = raw_post("ListStreams", b"{}", sign=False, headers={"Authorization": "X"})
    assert r.status == 400
    assert r.error_type == "IncompleteSignatureException"
    assert r.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=X")


def test_authorization_missing_signed_headers(raw_post):
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kinesis/aws4_request, Signature=abcdef"
    r = raw_post("ListStreams", b"{}", sign=False,
                 headers={"Authorization": auth, "X-Amz-Date": "20240101T000000Z"})
    assert r.status == 400
    assert r.error_type == "IncompleteSignatureException"
    assert r.message == f"Authorization header requires 'SignedHeaders' parameter. Authorization={auth}"


def test_unknown_members_are_ignored(raw_post, kinesis):
    name = unique_name()
    r = raw_post("CreateStream", json.dumps({"StreamName": name, "ShardCount": 1, "NoSuchMember": [1, 2]}))
    assert r.status == 200, r.body
    wait_status(kinesis, name, "ACTIVE")
    kinesis.delete_stream(StreamName=name)
    wait_gone(kinesis, name)


def assert_empty_answer(r):
    # AWS answers an operation without output members with no body at all, not `{}`.
    assert r.status == 200, r.body
    assert r.body == b"", r.body
    assert r.headers.get("content-length") == "0", r.headers
    assert r.headers.get("x-amzn-requestid")


def test_operations_without_output_members_answer_an_empty_body(raw_post, kinesis):
    name = unique_name()
    assert_empty_answer(raw_post("CreateStream", {"StreamName": name, "ShardCount": 2}))
    wait_status(kinesis, name, "ACTIVE")
    assert_empty_answer(raw_post("AddTagsToStream", {"StreamName": name, "Tags": {"k": "v"}}))
    assert_empty_answer(raw_post("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["k"]}))
    assert_empty_answer(raw_post("IncreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 48}))
    wait_status(kinesis, name, "ACTIVE")
    assert_empty_answer(raw_post("DecreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 24}))
    wait_status(kinesis, name, "ACTIVE")
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert_empty_answer(raw_post("MergeShards", {
        "StreamName": name,
        "ShardToMerge": shards[0]["ShardId"],
        "AdjacentShardToMerge": shards[1]["ShardId"],
    }))
    wait_status(kinesis, name, "ACTIVE")
    # Members of an output are still sent, even when the operation changes state.
    r = raw_post("ListTagsForStream", {"StreamName": name})
    assert r.status == 200 and r.json == {"Tags": [], "HasMoreTags": False}, r.body
    assert_empty_answer(raw_post("DeleteStream", {"StreamName": name}))
    wait_gone(kinesis, name)
    # An error is still a JSON document.
    r = raw_post("DeleteStream", {"StreamName": name})
    assert r.status == 400 and r.error_type == "ResourceNotFoundException", r.body


def test_validation_error_body(raw_post):
    r = raw_post("ListStreams", json.dumps({"Limit": 0}))
    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert r.message == ("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                         "Member must have value greater than or equal to 1")


def test_not_found_error_body(raw_post):
    name = unique_name()
    r = raw_post("DescribeStreamSummary", json.dumps({"StreamName": name}))
    assert r.status == 400
    assert r.error_type == "ResourceNotFoundException"
    assert r.message == f"Stream {name} under account 000000000000 not found."


def test_blob_must_be_base64(raw_post, stream):
    name = stream(1)
    r = raw_post("PutRecord", json.dumps({"StreamName": name, "PartitionKey": "p", "Data": "not base64!"}))
    assert r.status == 400
    assert r.error_type == "SerializationException"


def test_timestamps_in_responses_are_epoch_seconds(raw_post, stream):
    name = stream(1)
    r = raw_post("DescribeStreamSummary", json.dumps({"StreamName": name}))
    ts = r.json["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert isinstance(ts, (int, float))
    assert 1.5e9 < ts < 5e9
