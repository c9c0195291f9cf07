"""Rheo's encoded awsQuery/JSON 1.0 answers, parsed by botocore's own parsers.

The bytes are crates/rheo-proto/tests/fixtures/responses/*, which `cargo test -p rheo-proto`
requires to be exactly what the encoders write (RHEO_REGEN_FIXTURES=1 rewrites them).
Runs without a server: `.venv/bin/python -m pytest tests/proto -q`.
"""
import datetime
import json
import os
import zlib

import botocore.model
import botocore.parsers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RESPONSES = os.path.join(ROOT, "crates", "rheo-proto", "tests", "fixtures", "responses")
UTC = datetime.timezone.utc


def model(name):
    with open(os.path.join(ROOT, "models", name)) as f:
        return botocore.model.ServiceModel(json.load(f))


CW = model("monitoring-2010-08-01.json")
KINESIS = model("kinesis-2013-12-02.json")
DDB = model("dynamodb-2012-08-10.json")


def body(name):
    with open(os.path.join(RESPONSES, name), "rb") as f:
        return f.read()


def parse(protocol, service, op, name, status=200):
    data = body(name)
    headers = {"x-amzn-requestid": "r"}
    if protocol == "json":
        headers["x-amz-crc32"] = str(zlib.crc32(data))
    shape = service.operation_model(op).output_shape
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"body": data, "headers": headers, "status_code": status}, shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_list_metrics():
    assert parse("query", CW, "ListMetrics", "list_metrics.xml") == {
        "Metrics": [
            {
                "Namespace": "KinesisClientLibrary",
                "MetricName": "RecordsProcessed",
                "Dimensions": [{"Name": "ShardId", "Value": 'shard<1>&"x"'}],
            },
            {"MetricName": "Time"},
        ],
        "NextToken": "tok",
    }


def test_list_metrics_request_id():
    shape = CW.operation_model("ListMetrics").output_shape
    parsed = botocore.parsers.create_parser("query").parse(
        {"body": body("list_metrics.xml"), "headers": {}, "status_code": 200}, shape
    )
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_get_metric_data():
    assert parse("query", CW, "GetMetricData", "get_metric_data.xml") == {
        "MetricDataResults": [
            {
                "Id": "m1",
                "Label": "RecordsProcessed",
                "Timestamps": [
                    datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
                    datetime.datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC),
                ],
                "Values": [42.5, 0.001],
                "StatusCode": "Complete",
            }
        ],
        "Messages": [],
    }


def test_get_metric_statistics():
    assert parse("query", CW, "GetMetricStatistics", "get_metric_statistics.xml") == {
        "Label": "RecordsProcessed",
        "Datapoints": [
            {
                "Timestamp": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
                "Sum": 84.0,
                "Average": 42.0,
                "Unit": "Count",
                "ExtendedStatistics": {"p99": 41.5},
            }
        ],
    }


def test_put_metric_data_has_only_metadata():
    assert parse("query", CW, "PutMetricData", "put_metric_data.xml") == {}


def test_query_errors():
    err = parse("query", CW, "GetDashboard", "error_resource_not_found.xml", status=404)
    assert err["Error"] == {
        "Type": "Sender",
        "Code": "ResourceNotFound",
        "Message": "No such dashboard & <x>",
    }
    raw = botocore.parsers.create_parser("query").parse(
        {"body": body("error_resource_not_found.xml"), "headers": {}, "status_code": 404},
        CW.operation_model("GetDashboard").output_shape,
    )
    assert raw["ResponseMetadata"]["RequestId"] == "req-5"
    err = parse("query", CW, "PutMetricData", "error_validation.xml", status=400)
    assert err["Error"]["Code"] == "ValidationError"
    assert err["Error"]["Message"] == "1 validation error detected"


def test_describe_table_json10():
    assert parse("json", DDB, "DescribeTable", "describe_table.json") == {
        "Table": {
            "TableName": "kcl-leases",
            "TableStatus": "ACTIVE",
            "CreationDateTime": datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
            "ItemCount": 3,
            "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        }
    }


def test_get_item_json10():
    assert parse("json", DDB, "GetItem", "get_item.json") == {
        "Item": {
            "leaseKey": {"S": "shardId-1"},
            "leaseCounter": {"N": "7"},
            "b": {"B": b"\x00\xff"},
        }
    }


def test_json10_error_type_loses_its_namespace():
    err = parse("json", DDB, "PutItem", "error_conditional.json", status=400)
    assert err["Error"]["Code"] == "ConditionalCheckFailedException"
    assert err["Error"]["Message"] == "The conditional request failed"


def test_kinesis_empty_answers_parse_as_empty_outputs():
    # Rheo answers every Kinesis operation without output members with an empty body (as AWS
    # does); botocore's JSON 1.1 parser must read that as the empty output.
    parser = botocore.parsers.create_parser("json")
    empty = []
    for op in KINESIS.operation_names:
        shape = KINESIS.operation_model(op).output_shape
        if shape is not None and shape.members:
            continue
        empty.append(op)
        parsed = parser.parse({"body": b"", "headers": {"x-amzn-requestid": "r"}, "status_code": 200}, shape)
        assert parsed["ResponseMetadata"]["RequestId"] == "r", op
        parsed.pop("ResponseMetadata")
        assert parsed == {}, op
    assert {"CreateStream", "DeleteStream", "MergeShards", "SplitShard", "AddTagsToStream"} <= set(empty)
