"""Stream tags (AddTagsToStream / RemoveTagsFromStream / ListTagsForStream) and, newer,
resource tags by ARN (TagResource / UntagResource / ListTagsForResource)."""

import pytest

from khelpers import ACCOUNT, assert_error, not_found_message, stream_arn, unique_name


def _tags(kinesis, name, **kw):
    return [(t["Key"], t["Value"]) for t in kinesis.list_tags_for_stream(StreamName=name, **kw)["Tags"]]


def test_add_list_remove_tags(kinesis, stream):
    name = stream(1)
    r = kinesis.list_tags_for_stream(StreamName=name)
    assert r["Tags"] == [] and r["HasMoreTags"] is False
    kinesis.add_tags_to_stream(StreamName=name, Tags={"b": "2", "a": "1", "c": ""})
    assert _tags(kinesis, name) == [("a", "1"), ("b", "2"), ("c", "")]
    # Adding an existing key overwrites its value.
    kinesis.add_tags_to_stream(StreamName=name, Tags={"a": "one"})
    assert _tags(kinesis, name) == [("a", "one"), ("b", "2"), ("c", "")]
    # Removing keys (including one that does not exist) succeeds.
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["b", "does-not-exist"])
    assert _tags(kinesis, name) == [("a", "one"), ("c", "")]


def test_list_tags_paging(kinesis, stream):
    name = stream(1)
    kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i}": f"v{i}" for i in range(5)})
    r = kinesis.list_tags_for_stream(StreamName=name, Limit=2)
    assert [(t["Key"], t["Value"]) for t in r["Tags"]] == [("k0", "v0"), ("k1", "v1")]
    assert r["HasMoreTags"] is True
    r = kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="k1", Limit=2)
    assert [t["Key"] for t in r["Tags"]] == ["k2", "k3"]
    assert r["HasMoreTags"] is True
    r = kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="k3")
    assert [t["Key"] for t in r["Tags"]] == ["k4"]
    assert r["HasMoreTags"] is False


def test_tags_on_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.add_tags_to_stream, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name, Tags={"a": "b"})
    assert_error(kinesis.list_tags_for_stream, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name)
    assert_error(kinesis.remove_tags_from_stream, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name, TagKeys=["a"])


def test_tag_key_too_long(kinesis_nv, stream):
    name = stream(1)
    key = "k" * 129
    assert_error(kinesis_nv.remove_tags_from_stream, "ValidationException",
                 f"1 validation error detected: Value '[{key}]' at 'tagKeys' failed to satisfy constraint: "
                 "Member must satisfy constraint: [Member must have length less than or equal to 128, "
                 "Member must have length greater than or equal to 1]",
                 StreamName=name, TagKeys=[key])


def test_add_tags_with_invalid_characters(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.add_tags_to_stream, "InvalidArgumentException",
                 StreamName=name, Tags={"bad<key>": "v"})


def test_empty_tag_map(kinesis_nv, stream):
    name = stream(1)
    assert_error(kinesis_nv.add_tags_to_stream, "ValidationException",
                 "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: "
                 "Member must have length greater than or equal to 1",
                 StreamName=name, Tags={})


@pytest.mark.modern
def test_stream_tags_by_arn(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    kinesis.add_tags_to_stream(StreamARN=arn, Tags={"x": "1"})
    r = kinesis.list_tags_for_stream(StreamARN=arn)
    assert [(t["Key"], t["Value"]) for t in r["Tags"]] == [("x", "1")]
    kinesis.remove_tags_from_stream(StreamARN=arn, TagKeys=["x"])
    assert _tags(kinesis, name) == []


@pytest.mark.modern
def test_tag_resource_by_arn(kinesis, stream):
    name = stream(1)
    arn = stream_arn(name)
    r = kinesis.tag_resource(ResourceARN=arn, Tags={"env": "dev", "app": "rheo"})
    assert set(r) == {"ResponseMetadata"}
    tags = kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("app", "rheo"), ("env", "dev")]
    # Both APIs see the same tags.
    assert _tags(kinesis, name) == [("app", "rheo"), ("env", "dev")]
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["env"])
    tags = kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("app", "rheo")]


@pytest.mark.modern
def test_tag_resource_missing_stream(kinesis):
    name = unique_name()
    msg = assert_error(kinesis.list_tags_for_resource, "ResourceNotFoundException",
                       ResourceARN=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}")
    assert name in msg


@pytest.mark.modern
def test_more_than_50_tags_is_invalid(kinesis, stream):
    name = stream(1)
    kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i:02d}": "v" for i in range(50)})
    assert len(_tags(kinesis, name)) == 50
    assert_error(kinesis.add_tags_to_stream, "InvalidArgumentException", StreamName=name, Tags={"one-more": "v"})
