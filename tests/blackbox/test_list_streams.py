"""ListStreams: ordering, Limit / ExclusiveStartStreamName paging, and (modern) NextToken and
StreamSummaries."""

import pytest

from khelpers import assert_error, stream_arn, unique_name


def _names(prefix):
    return sorted(f"{prefix}-{i}" for i in range(3))


def test_list_streams_sorted_and_paged(kinesis, stream):
    prefix = unique_name("ls")
    names = _names(prefix)
    for n in names:
        stream(1, name=n, wait=False)
    listed = kinesis.list_streams()["StreamNames"]
    assert [n for n in listed if n.startswith(prefix)] == names
    assert listed == sorted(listed)

    # Start just before our names: the next page must be exactly our first name.
    page = kinesis.list_streams(Limit=1, ExclusiveStartStreamName=prefix)
    assert page["StreamNames"] == [names[0]]
    assert page["HasMoreStreams"] is True
    page = kinesis.list_streams(Limit=2, ExclusiveStartStreamName=names[0])
    assert page["StreamNames"] == names[1:]


def test_list_streams_has_more_false_at_end(kinesis, stream):
    name = stream(1, name="zzzzzz-" + unique_name())
    page = kinesis.list_streams(ExclusiveStartStreamName=name)
    assert name not in page["StreamNames"]
    assert all(n > name for n in page["StreamNames"])
    last = kinesis.list_streams(ExclusiveStartStreamName="zzzzzzzzzzzzzzzzzzzzzzzzz")
    assert last["StreamNames"] == []
    assert last["HasMoreStreams"] is False


def test_list_streams_limit_validation(kinesis_nv):
    assert_error(
        kinesis_nv.list_streams, "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
        Limit=0)
    assert_error(
        kinesis_nv.list_streams, "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
        Limit=10001)


@pytest.mark.modern
def test_list_streams_summaries_and_next_token(kinesis, stream):
    prefix = unique_name("lt")
    names = _names(prefix)
    for n in names:
        stream(1, name=n)
    page = kinesis.list_streams(Limit=1, ExclusiveStartStreamName=prefix)
    assert page["StreamNames"] == [names[0]]
    assert page["HasMoreStreams"] is True
    summaries = page["StreamSummaries"]
    assert len(summaries) == 1
    assert summaries[0]["StreamName"] == names[0]
    assert summaries[0]["StreamARN"] == stream_arn(names[0])
    assert summaries[0]["StreamStatus"] == "ACTIVE"
    assert summaries[0]["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert "StreamCreationTimestamp" in summaries[0]
    token = page["NextToken"]
    page2 = kinesis.list_streams(Limit=1, NextToken=token)
    assert page2["StreamNames"] == [names[1]]
    page3 = kinesis.list_streams(Limit=5, NextToken=page2["NextToken"])
    assert page3["StreamNames"][0] == names[2]
