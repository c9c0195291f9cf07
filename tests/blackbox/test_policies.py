"""Authorization under `--auth sigv4`: identity policies from the credentials file and resource
policies (PutResourcePolicy) evaluated with IAM's logic, every refusal compared with AWS's
AccessDeniedException (type, message naming the principal, action and resource, status 400).

The last test replays the table of tests/policy/cases.json that `rheo policy simulate --cases`
and rheo-iam's own test pass, against a real server: each case whose request the server can be
made to see (a PutRecord with no condition context the test cannot reproduce) gets a server of
its own, a principal with the case's identity policies, the case's resource policy on the
stream, and must be allowed or refused as the table says."""

import json
import os
import pathlib
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import rheo_server
from khelpers import unique_name, wait_status

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RHEO_ENDPOINT")), reason="starts its own servers with --auth sigv4"
)

REGION = "us-east-1"
A1, A2 = "111111111111", "222222222222"
CASES = pathlib.Path(__file__).resolve().parents[1] / "policy" / "cases.json"


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


ADMIN = ("AKIDADMIN", "admin-secret", A1, f"arn:aws:iam::{A1}:user/admin", [policy(allow("*"))])
PRINCIPALS = [
    ADMIN,
    # Everything on streams named open-*, but never DeleteStream (explicit deny over allow).
    ("AKIDALICE", "alice-secret", A1, f"arn:aws:iam::{A1}:user/alice", [
        policy(allow("kinesis:*", f"arn:aws:kinesis:*:{A1}:stream/open-*"),
               deny("kinesis:DeleteStream"))]),
    # No policy at all: everything is implicitly denied.
    ("AKIDBOB", "bob-secret", A1, f"arn:aws:iam::{A1}:user/bob", []),
    # Everything but the Delete* actions (NotAction), on anything but streams named vault-*
    # (NotResource).
    ("AKIDCAROL", "carol-secret", A1, f"arn:aws:iam::{A1}:user/carol", [
        policy({"Effect": "Allow", "NotAction": "kinesis:Delete*",
                "NotResource": f"arn:aws:kinesis:*:{A1}:stream/vault-*"})]),
    # Allowed only from 10.0.0.0/8 (the test runs from 127.0.0.1) / only from loopback.
    ("AKIDDAVE", "dave-secret", A1, f"arn:aws:iam::{A1}:user/dave", [
        policy(allow("kinesis:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))]),
    ("AKIDERIN", "erin-secret", A1, f"arn:aws:iam::{A1}:user/erin", [
        policy(allow("kinesis:*", Condition={"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}))]),
    # Allowed only over TLS (this suite speaks plain HTTP).
    ("AKIDFRANK", "frank-secret", A1, f"arn:aws:iam::{A1}:user/frank", [
        policy(allow("kinesis:*", Condition={"Bool": {"aws:SecureTransport": "true"}}))]),
    # GetRecords on streams named read-a* only (plus what a reader needs to get an iterator).
    ("AKIDGRACE", "grace-secret", A1, f"arn:aws:iam::{A1}:user/grace", [
        policy(allow(["kinesis:GetRecords", "kinesis:GetShardIterator"], f"arn:aws:kinesis:*:{A1}:stream/read-a*"),
               allow("kinesis:GetShardIterator"))]),
    # Another account, allowed everything by its own identity policy.
    ("AKIDXACCT", "xacct-secret", A2, f"arn:aws:iam::{A2}:user/partner", [policy(allow("kinesis:*"))]),
]


def credentials_toml(principals):
    out = []
    for key, secret, account, arn, policies in principals:
        out.append("[[principal]]")
        out.append(f'access_key_id = "{key}"')
        out.append(f'secret_access_key = "{secret}"')
        out.append(f'account = "{account}"')
        out.append(f'arn = "{arn}"')
        if policies:
            out.append("policies = [" + ", ".join(json.dumps(p) for p in policies) + "]")
        out.append("")
    return "\n".join(out)


def client(endpoint, key, secret, region=REGION):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def who(name):
    p = next(p for p in PRINCIPALS if p[0] == name)
    return p


def denied(exc_info, principal_arn, action, resource, why):
    err = exc_info.value.response["Error"]
    assert err["Code"] == "AccessDeniedException", err
    assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Message"] == (
        f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
    ), err["Message"]


def no_identity(action):
    return f"because no identity-based policy allows the {action} action"


def no_resource(action):
    return f"because no resource-based policy allows the {action} action"


EXPLICIT_IDENTITY = "with an explicit deny in an identity-based policy"
EXPLICIT_RESOURCE = "with an explicit deny in a resource-based policy"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("policies") / "credentials.toml"
    path.write_text(credentials_toml(PRINCIPALS))
    with rheo_server(auth="sigv4", credentials=str(path)) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def admin(server):
    return client(server, *ADMIN[:2])


def as_(server, name):
    return client(server, *who(name)[:2])


def stream_arn(name, account=A1):
    return f"arn:aws:kinesis:{REGION}:{account}:stream/{name}"


def make_stream(admin, prefix):
    name = f"{prefix}{unique_name()}"
    admin.create_stream(StreamName=name, ShardCount=1)
    wait_status(admin, name, "ACTIVE")
    return name


def test_allowed_by_identity_policy_with_a_resource_wildcard(server, admin):
    name = make_stream(admin, "open-")
    alice = as_(server, "AKIDALICE")
    alice.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert alice.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamName"] == name


def test_a_resource_outside_the_wildcard_is_implicitly_denied(server, admin):
    name = make_stream(admin, "closed-")
    with pytest.raises(ClientError) as e:
        as_(server, "AKIDALICE").put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDALICE")[3], "kinesis:PutRecord", stream_arn(name), no_identity("kinesis:PutRecord"))


def test_a_principal_without_policies_is_denied_everything(server, admin):
    name = make_stream(admin, "open-")
    bob = as_(server, "AKIDBOB")
    with pytest.raises(ClientError) as e:
        bob.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDBOB")[3], "kinesis:PutRecord", stream_arn(name), no_identity("kinesis:PutRecord"))
    with pytest.raises(ClientError) as e:
        bob.create_stream(StreamName="open-bob", ShardCount=1)
    denied(e, who("AKIDBOB")[3], "kinesis:CreateStream", stream_arn("open-bob"), no_identity("kinesis:CreateStream"))


def test_an_explicit_deny_wins_over_an_allow(server, admin):
    name = make_stream(admin, "open-")
    with pytest.raises(ClientError) as e:
        as_(server, "AKIDALICE").delete_stream(StreamName=name)
    denied(e, who("AKIDALICE")[3], "kinesis:DeleteStream", stream_arn(name), EXPLICIT_IDENTITY)
    # Nothing was deleted.
    assert admin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"


def test_not_action_and_not_resource(server, admin):
    carol = as_(server, "AKIDCAROL")
    name = make_stream(admin, "open-")
    carol.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    carol.add_tags_to_stream(StreamName=name, Tags={"team": "a"})
    with pytest.raises(ClientError) as e:
        carol.delete_stream(StreamName=name)
    denied(e, who("AKIDCAROL")[3], "kinesis:DeleteStream", stream_arn(name), no_identity("kinesis:DeleteStream"))
    vault = make_stream(admin, "vault-")
    with pytest.raises(ClientError) as e:
        carol.put_record(StreamName=vault, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDCAROL")[3], "kinesis:PutRecord", stream_arn(vault), no_identity("kinesis:PutRecord"))


def test_source_ip_condition(server, admin):
    name = make_stream(admin, "open-")
    with pytest.raises(ClientError) as e:
        as_(server, "AKIDDAVE").put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDDAVE")[3], "kinesis:PutRecord", stream_arn(name), no_identity("kinesis:PutRecord"))
    as_(server, "AKIDERIN").put_record(StreamName=name, Data=b"x", PartitionKey="k")


def test_secure_transport_condition_refuses_plain_http(server, admin):
    name = make_stream(admin, "open-")
    with pytest.raises(ClientError) as e:
        as_(server, "AKIDFRANK").put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDFRANK")[3], "kinesis:PutRecord", stream_arn(name), no_identity("kinesis:PutRecord"))


def test_get_records_is_judged_on_the_iterator_s_stream(server, admin):
    """GetRecords names its stream only inside the shard iterator: a policy on one stream must
    not let its holder read another with an iterator for it."""
    allowed, other = make_stream(admin, "read-a"), make_stream(admin, "read-b")
    for name in (allowed, other):
        admin.put_record(StreamName=name, Data=b"payload", PartitionKey="k")
    grace = as_(server, "AKIDGRACE")
    it = grace.get_shard_iterator(StreamName=allowed, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in grace.get_records(ShardIterator=it)["Records"]] == [b"payload"]
    it = grace.get_shard_iterator(StreamName=other, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        grace.get_records(ShardIterator=it)
    denied(e, who("AKIDGRACE")[3], "kinesis:GetRecords", stream_arn(other), no_identity("kinesis:GetRecords"))


def test_cross_account_access_needs_a_resource_policy(server, admin):
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    partner = as_(server, "AKIDXACCT")
    partner_arn = who("AKIDXACCT")[3]
    with pytest.raises(ClientError) as e:
        partner.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    denied(e, partner_arn, "kinesis:PutRecord", arn, no_resource("kinesis:PutRecord"))
    admin.put_resource_policy(ResourceARN=arn, Policy=policy({
        "Sid": "PartnerWrites", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A2}:root"},
        "Action": ["kinesis:PutRecord"], "Resource": arn}))
    # The grant names one action only: others stay refused, in the resource-policy wording.
    with pytest.raises(ClientError) as e:
        partner.add_tags_to_stream(StreamARN=arn, Tags={"a": "b"})
    denied(e, partner_arn, "kinesis:AddTagsToStream", arn, no_resource("kinesis:AddTagsToStream"))
    admin.delete_resource_policy(ResourceARN=arn)
    with pytest.raises(ClientError) as e:
        partner.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    denied(e, partner_arn, "kinesis:PutRecord", arn, no_resource("kinesis:PutRecord"))


def test_a_granted_cross_account_put_reaches_the_owner_s_stream(server, admin):
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    admin.put_resource_policy(ResourceARN=arn, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A2}:root"},
        "Action": "kinesis:PutRecord", "Resource": arn}))
    as_(server, "AKIDXACCT").put_record(StreamARN=arn, Data=b"from-partner", PartitionKey="k")
    it = admin.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in admin.get_records(ShardIterator=it)["Records"]] == [b"from-partner"]


def _grant(admin, arn, actions, account=A2):
    admin.put_resource_policy(ResourceARN=arn, Policy=policy({
        "Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": actions, "Resource": arn}))


def test_a_granted_partner_writes_and_reads_the_owner_s_stream_by_arn(server, admin):
    """Account A2, granted by A1's resource policy, produces to and consumes from A1's stream
    by its ARN: it reads its own records back, and every ARN it is answered names A1."""
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    _grant(admin, arn, ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:GetShardIterator",
                        "kinesis:GetRecords", "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary", "kinesis:ListShards"])
    partner = as_(server, "AKIDXACCT")
    summary = partner.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert (summary["StreamName"], summary["StreamARN"]) == (name, arn)
    assert partner.describe_stream(StreamARN=arn)["StreamDescription"]["StreamARN"] == arn
    shards = partner.list_shards(StreamARN=arn)["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000"]
    put = partner.put_record(StreamARN=arn, Data=b"one", PartitionKey="k")
    assert put["ShardId"] == "shardId-000000000000"
    out = partner.put_records(StreamARN=arn, Records=[
        {"Data": b"two", "PartitionKey": "k"}, {"Data": b"three", "PartitionKey": "k"}])
    assert out["FailedRecordCount"] == 0
    it = partner.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = partner.get_records(ShardIterator=it)
    assert [r["Data"] for r in got["Records"]] == [b"one", b"two", b"three"]
    assert got["Records"][0]["SequenceNumber"] == put["SequenceNumber"]
    # The next iterator still leads to A1's stream; with StreamARN given too, it must agree.
    assert partner.get_records(ShardIterator=got["NextShardIterator"], StreamARN=arn)["Records"] == []
    # The owner sees the partner's records in its stream.
    it = admin.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in admin.get_records(ShardIterator=it)["Records"]] == [b"one", b"two", b"three"]
    # Errors name the owner's account.
    with pytest.raises(ClientError) as e:
        partner.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000009",
                                   ShardIteratorType="TRIM_HORIZON")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"under account {A1}" in e.value.response["Error"]["Message"], e.value.response["Error"]
    # By StreamName a call always means the caller's own account: A2 has no such stream.
    with pytest.raises(ClientError) as e:
        partner.describe_stream_summary(StreamName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"under account {A2}" in e.value.response["Error"]["Message"]


def test_a_granted_partner_pages_through_the_owner_s_shards(server, admin):
    """The NextToken of a ListShards by ARN names A1's stream: the next page is judged by A1's
    policy and read from A1's stream."""
    name = f"shared-{unique_name()}"
    admin.create_stream(StreamName=name, ShardCount=3)
    wait_status(admin, name, "ACTIVE")
    arn = stream_arn(name)
    partner = as_(server, "AKIDXACCT")
    _grant(admin, arn, "kinesis:ListShards")
    first = partner.list_shards(StreamARN=arn, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = partner.list_shards(NextToken=first["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    admin.delete_resource_policy(ResourceARN=arn)
    with pytest.raises(ClientError) as e:
        partner.list_shards(NextToken=first["NextToken"])
    denied(e, who("AKIDXACCT")[3], "kinesis:ListShards", arn, no_resource("kinesis:ListShards"))


def test_a_granted_partner_uses_the_owner_s_key_on_an_encrypted_stream(server, admin):
    """Records a partner writes to A1's encrypted stream are sealed under A1's KMS key (the
    partner's account holds no such key) and read back through it."""
    kms = boto3.client("kms", endpoint_url=server, region_name=REGION,
                       aws_access_key_id=ADMIN[0], aws_secret_access_key=ADMIN[1],
                       config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    key = kms.create_key()["KeyMetadata"]
    assert key["Arn"].split(":")[4] == A1
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    admin.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key["Arn"])
    wait_status(admin, name, "ACTIVE")
    _grant(admin, arn, ["kinesis:PutRecord", "kinesis:GetShardIterator", "kinesis:GetRecords"])
    partner = as_(server, "AKIDXACCT")
    assert partner.put_record(StreamARN=arn, Data=b"sealed", PartitionKey="k")["EncryptionType"] == "KMS"
    it = partner.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = partner.get_records(ShardIterator=it)["Records"]
    assert [(r["Data"], r["EncryptionType"]) for r in records] == [(b"sealed", "KMS")]
    # The owner's key governs: disabled, it refuses the partner too.
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        partner.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    assert e.value.response["Error"]["Code"] == "KMSDisabledException", e.value.response["Error"]
    kms.enable_key(KeyId=key["KeyId"])


def test_an_ungranted_partner_is_refused_in_the_resource_policy_s_words(server, admin):
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    admin.put_record(StreamName=name, Data=b"private", PartitionKey="k")
    partner = as_(server, "AKIDXACCT")
    partner_arn = who("AKIDXACCT")[3]
    for call, action in [
        (lambda: partner.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000",
                                            ShardIteratorType="TRIM_HORIZON"),
         "kinesis:GetShardIterator"),
        (lambda: partner.describe_stream_summary(StreamARN=arn), "kinesis:DescribeStreamSummary"),
        (lambda: partner.put_records(StreamARN=arn, Records=[{"Data": b"x", "PartitionKey": "k"}]),
         "kinesis:PutRecords"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        denied(e, partner_arn, action, arn, no_resource(action))
    # An iterator of A1's names A1's stream: handed to A2 it is judged by A1's policy.
    it = admin.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        partner.get_records(ShardIterator=it)
    denied(e, partner_arn, "kinesis:GetRecords", arn, no_resource("kinesis:GetRecords"))
    # A grant of PutRecord alone lets PutRecord through and nothing else.
    _grant(admin, arn, "kinesis:PutRecord")
    partner.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    with pytest.raises(ClientError) as e:
        partner.get_records(ShardIterator=it)
    denied(e, partner_arn, "kinesis:GetRecords", arn, no_resource("kinesis:GetRecords"))


def test_actions_aws_does_not_share_across_accounts_find_no_stream(server, admin):
    """A resource policy may name any action, but AWS shares only the data-plane calls and a
    few describes across accounts: granted tagging or deletion still finds no stream of the
    caller's (in the owner's words), and changes nothing."""
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    _grant(admin, arn, ["kinesis:AddTagsToStream", "kinesis:DeleteStream"])
    partner = as_(server, "AKIDXACCT")
    for call in (lambda: partner.add_tags_to_stream(StreamARN=arn, Tags={"a": "b"}),
                 lambda: partner.delete_stream(StreamARN=arn)):
        with pytest.raises(ClientError) as e:
            call()
        err = e.value.response["Error"]
        assert err["Code"] == "ResourceNotFoundException", err
        assert err["Message"] == f"Stream {name} under account {A1} not found.", err
    summary = admin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert admin.list_tags_for_stream(StreamName=name)["Tags"] == []


def test_a_granted_partner_subscribes_to_the_owner_s_consumer(server, admin):
    """Enhanced fan-out across accounts: the consumer's own resource policy grants A2
    DescribeStreamConsumer and SubscribeToShard by the consumer's ARN."""
    name = make_stream(admin, "shared-")
    arn = stream_arn(name)
    consumer = admin.register_stream_consumer(StreamARN=arn, ConsumerName="partner")["Consumer"]
    consumer_arn = consumer["ConsumerARN"]
    for _ in range(200):
        c = admin.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]
        if c["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    admin.put_record(StreamName=name, Data=b"fan-out", PartitionKey="k")
    partner = as_(server, "AKIDXACCT")
    partner_arn = who("AKIDXACCT")[3]
    with pytest.raises(ClientError) as e:
        partner.describe_stream_consumer(ConsumerARN=consumer_arn)
    denied(e, partner_arn, "kinesis:DescribeStreamConsumer", consumer_arn,
           no_resource("kinesis:DescribeStreamConsumer"))
    _grant(admin, consumer_arn, ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"])
    described = partner.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]
    assert (described["ConsumerARN"], described["StreamARN"]) == (consumer_arn, arn)
    sub = partner.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId="shardId-000000000000",
                                     StartingPosition={"Type": "TRIM_HORIZON"})
    records = []
    for event in sub["EventStream"]:
        records += event["SubscribeToShardEvent"]["Records"]
        if records:
            break
    assert [r["Data"] for r in records] == [b"fan-out"]


def test_an_explicit_deny_in_a_resource_policy_wins(server, admin):
    name = make_stream(admin, "open-")
    arn = stream_arn(name)
    admin.put_resource_policy(ResourceARN=arn, Policy=policy({
        "Effect": "Deny", "Principal": {"AWS": who("AKIDALICE")[3]},
        "Action": "kinesis:PutRecord", "Resource": arn}))
    with pytest.raises(ClientError) as e:
        as_(server, "AKIDALICE").put_record(StreamName=name, Data=b"x", PartitionKey="k")
    denied(e, who("AKIDALICE")[3], "kinesis:PutRecord", arn, EXPLICIT_RESOURCE)
    # Another caller allowed by identity is untouched by a deny that does not name it.
    as_(server, "AKIDCAROL").put_record(StreamName=name, Data=b"x", PartitionKey="k")


def test_a_resource_policy_alone_allows_within_the_account(server, admin):
    name = make_stream(admin, "closed-")
    arn = stream_arn(name)
    bob = as_(server, "AKIDBOB")
    admin.put_resource_policy(ResourceARN=arn, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": who("AKIDBOB")[3]},
        "Action": "kinesis:PutRecord", "Resource": arn}))
    bob.put_record(StreamName=name, Data=b"x", PartitionKey="k")


# ----------------------------------------------------------------------------- the table


def _sendable(case):
    req = case["request"]
    if req["action"] != "kinesis:PutRecord" or "/consumer/" in req["resource"]:
        return False
    # Only context the server sees for this test's requests: from 127.0.0.1, over plain HTTP.
    seen = {"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": "false"}
    context = req.get("context", {})
    if not all(seen.get(k) == v for k, v in context.items()):
        return False
    # A case that leaves out a key the server always knows (the source address, the transport)
    # asks about a request the server never sees.
    text = json.dumps([case["identity"], case.get("resource_policy")]).lower()
    return all(k in context for k in seen if k.lower() in text)


def _cross_account_allow(case):
    req = case["request"]
    return case["expect"]["decision"] == "allow" and req["principal"].split(":")[4] != req["resource"].split(":")[4]


def _table():
    cases = json.loads(CASES.read_text())
    return [pytest.param(c, id=c["name"]) for c in cases if _sendable(c)]


@pytest.mark.parametrize("case", _table())
def test_the_server_decides_every_sendable_case_of_the_table(case, tmp_path):
    req = case["request"]
    principal = req["principal"]
    account = principal.split(":")[4]
    resource = req["resource"]
    res_account, stream = resource.split(":")[4], resource.split(":stream/")[1]
    admin_key = ("AKIDTABLEADMIN", "s", res_account, f"arn:aws:iam::{res_account}:user/table-admin",
                 [policy(allow("*"))])
    caller = ("AKIDTABLECALLER", "c", account, principal, [json.dumps(p) for p in case["identity"]])
    path = tmp_path / "credentials.toml"
    path.write_text(credentials_toml([admin_key, caller]))
    with rheo_server(auth="sigv4", credentials=str(path)) as endpoint:
        admin = client(endpoint, "AKIDTABLEADMIN", "s")
        admin.create_stream(StreamName=stream, ShardCount=1)
        wait_status(admin, stream, "ACTIVE")
        if case.get("resource_policy"):
            admin.put_resource_policy(ResourceARN=resource, Policy=json.dumps(case["resource_policy"]))
        call = client(endpoint, "AKIDTABLECALLER", "c")
        expected = case["expect"]["decision"]
        if expected == "allow":
            call.put_record(StreamARN=resource, Data=b"x", PartitionKey="k")
            # Allowed across accounts, the record is in the owner's stream.
            if _cross_account_allow(case):
                it = admin.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                assert [r["Data"] for r in admin.get_records(ShardIterator=it)["Records"]] == [b"x"]
            return
        with pytest.raises(ClientError) as e:
            call.put_record(StreamARN=resource, Data=b"x", PartitionKey="k")
        err = e.value.response["Error"]
        assert err["Code"] == "AccessDeniedException", err
        prefix = f"User: {principal} is not authorized to perform: kinesis:PutRecord on resource: {resource} "
        assert err["Message"].startswith(prefix), err["Message"]
        if expected == "explicit-deny":
            assert "with an explicit deny in a" in err["Message"], err["Message"]
        else:
            assert err["Message"].endswith("policy allows the kinesis:PutRecord action"), err["Message"]
