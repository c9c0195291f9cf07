"""Increase/DecreaseStreamRetentionPeriod.

AWS raised the maximum retention from 168 h to 8760 h (365 days) in 2020; kinesalite
still validates 1..168 (`Member must have value less than or equal to 168`). Tests that use
values above 168 are therefore `modern`.
"""

import pytest

from khelpers import assert_error, not_found_message, unique_name


def _retention(kinesis, name):
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"]


def test_increase_then_decrease(kinesis, stream):
    name = stream(1)
    assert _retention(kinesis, name) == 24
    r = kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert set(r) == {"ResponseMetadata"}
    assert _retention(kinesis, name) == 48
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert _retention(kinesis, name) == 24


def test_increase_to_smaller_value_is_invalid(kinesis, stream):
    name = stream(1)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert_error(kinesis.increase_stream_retention_period, "InvalidArgumentException",
                 f"Requested retention period (30 hours) for stream {name} can not be shorter than existing "
                 "retention period (48 hours). Use DecreaseRetentionPeriod API.",
                 StreamName=name, RetentionPeriodHours=30)
    assert _retention(kinesis, name) == 48


def test_decrease_to_larger_value_is_invalid(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.decrease_stream_retention_period, "InvalidArgumentException",
                 f"Requested retention period (100 hours) for stream {name} can not be longer than existing "
                 "retention period (24 hours). Use IncreaseRetentionPeriod API.",
                 StreamName=name, RetentionPeriodHours=100)


def test_decrease_below_24_hours_is_invalid(kinesis, stream):
    name = stream(1)
    assert_error(kinesis.decrease_stream_retention_period, "InvalidArgumentException",
                 "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.",
                 StreamName=name, RetentionPeriodHours=23)
    assert_error(kinesis.increase_stream_retention_period, "InvalidArgumentException",
                 "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.",
                 StreamName=name, RetentionPeriodHours=12)


def test_retention_on_missing_stream(kinesis):
    name = unique_name()
    assert_error(kinesis.increase_stream_retention_period, "ResourceNotFoundException", not_found_message(name),
                 StreamName=name, RetentionPeriodHours=48)


@pytest.mark.modern
def test_retention_up_to_8760_hours(kinesis, stream):
    name = stream(1)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    assert _retention(kinesis, name) == 8760
    msg = assert_error(kinesis.increase_stream_retention_period, "InvalidArgumentException",
                       StreamName=name, RetentionPeriodHours=8761)
    assert "8760" in msg and "8761" in msg
    assert _retention(kinesis, name) == 8760
