"""Writes cases.json (kept in the repo; this script is how the table was laid out, rerun it
after editing). Each case: identity policies, an optional resource policy, a request, and
the decision AWS's evaluation logic gives it."""
import json

A = "111111111111"
B = "222222222222"
ALICE = f"arn:aws:iam::{A}:user/alice"
CAROL = f"arn:aws:iam::{A}:user/carol"
BOB = f"arn:aws:iam::{B}:user/bob"
ROOT = f"arn:aws:iam::{A}:root"
ROLE_SESSION = f"arn:aws:sts::{B}:assumed-role/reader/session-1"
S = f"arn:aws:kinesis:us-east-1:{A}:stream/orders"
SECRET = f"arn:aws:kinesis:us-east-1:{A}:stream/secret"
CONSUMER = f"{S}/consumer/app-1:1700000000"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def st(effect, action, resource="*", sid=None, condition=None, not_action=False,
       not_resource=False, principal=None, not_principal=False):
    s = {}
    if sid:
        s["Sid"] = sid
    s["Effect"] = effect
    if principal is not None:
        s["NotPrincipal" if not_principal else "Principal"] = principal
    s["NotAction" if not_action else "Action"] = action
    if resource is not None:
        s["NotResource" if not_resource else "Resource"] = resource
    if condition:
        s["Condition"] = condition
    return s


cases = []


def case(name, identity, request, decision, policy_type=None, sid=None, resource_policy=None):
    principal, action, resource, *ctx = request
    c = {"name": name, "identity": identity}
    if resource_policy is not None:
        c["resource_policy"] = resource_policy
    req = {"principal": principal, "action": action, "resource": resource}
    if ctx and ctx[0]:
        req["context"] = ctx[0]
    c["request"] = req
    e = {"decision": decision}
    if policy_type:
        e["policy_type"] = policy_type
    if sid:
        e["sid"] = sid
    c["expect"] = e
    cases.append(c)


put = lambda who=ALICE, res=S, ctx=None: (who, "kinesis:PutRecord", res, ctx)
allow_put = doc(st("Allow", "kinesis:PutRecord", S, sid="Put"))

# Allow, implicit deny, explicit deny over allow.
case("allow: exact action and resource", [allow_put], put(), "allow", "identity", "Put")
case("implicit deny: no policy at all", [], put(), "implicit-deny", "identity")
case("implicit deny: another action allowed", [doc(st("Allow", "kinesis:GetRecords", S))], put(), "implicit-deny", "identity")
case("implicit deny: another stream allowed", [doc(st("Allow", "kinesis:PutRecord", SECRET))], put(), "implicit-deny", "identity")
case("explicit deny wins over an allow in the same policy",
     [doc(st("Allow", "kinesis:*", "*", sid="All"), st("Deny", "kinesis:PutRecord", S, sid="NoPut"))],
     put(), "explicit-deny", "identity", "NoPut")
case("explicit deny in a second policy wins over the first's allow",
     [doc(st("Allow", "kinesis:*", sid="All")), doc(st("Deny", "kinesis:Put*", sid="NoPuts"))],
     put(), "explicit-deny", "identity", "NoPuts")
case("a deny for another action does not deny",
     [doc(st("Allow", "kinesis:*", sid="All"), st("Deny", "kinesis:DeleteStream", sid="NoDelete"))],
     put(), "allow", "identity", "All")

# Action wildcards.
case("action wildcard: kinesis:*", [doc(st("Allow", "kinesis:*", S, sid="Star"))], put(), "allow", "identity", "Star")
case("action wildcard: * alone", [doc(st("Allow", "*", "*", sid="Everything"))], put(), "allow", "identity", "Everything")
case("action wildcard: prefix kinesis:Put*", [doc(st("Allow", "kinesis:Put*", S))],
     (ALICE, "kinesis:PutRecords", S), "allow")
case("action wildcard: ? matches one character", [doc(st("Allow", "kinesis:Get?ecords", S))],
     (ALICE, "kinesis:GetRecords", S), "allow")
case("action wildcard: prefix does not match another action", [doc(st("Allow", "kinesis:Put*", S))],
     (ALICE, "kinesis:GetRecords", S), "implicit-deny", "identity")
case("action names are case-insensitive", [doc(st("Allow", "KINESIS:putrecord", S))], put(), "allow")
case("action list: any entry matches", [doc(st("Allow", ["kinesis:GetRecords", "kinesis:PutRecord"], S))], put(), "allow")

# Resource wildcards.
case("resource wildcard in region and name", [doc(st("Allow", "kinesis:PutRecord", f"arn:aws:kinesis:*:{A}:stream/ord*"))], put(), "allow")
case("resource wildcard: another account's streams do not match",
     [doc(st("Allow", "kinesis:PutRecord", f"arn:aws:kinesis:*:{B}:stream/*"))], put(), "implicit-deny", "identity")
case("resource ARNs are case-sensitive", [doc(st("Allow", "kinesis:PutRecord", f"arn:aws:kinesis:us-east-1:{A}:stream/ORDERS"))],
     put(), "implicit-deny", "identity")
case("resource wildcard reaches a stream's consumers",
     [doc(st("Allow", "kinesis:SubscribeToShard", f"{S}/consumer/*"))],
     (ALICE, "kinesis:SubscribeToShard", CONSUMER), "allow")

# NotAction, NotResource.
case("NotAction allows every other action", [doc(st("Allow", "kinesis:DeleteStream", "*", not_action=True, sid="AllButDelete"))],
     put(), "allow", "identity", "AllButDelete")
case("NotAction does not allow the excluded action", [doc(st("Allow", "kinesis:DeleteStream", "*", not_action=True))],
     (ALICE, "kinesis:DeleteStream", S), "implicit-deny", "identity")
case("Deny with NotAction denies everything but reads",
     [doc(st("Allow", "kinesis:*", sid="All"), st("Deny", ["kinesis:Get*", "kinesis:Describe*"], not_action=True, sid="ReadOnly"))],
     put(), "explicit-deny", "identity", "ReadOnly")
case("Deny with NotAction leaves the reads allowed",
     [doc(st("Allow", "kinesis:*", sid="All"), st("Deny", ["kinesis:Get*", "kinesis:Describe*"], not_action=True, sid="ReadOnly"))],
     (ALICE, "kinesis:GetRecords", S), "allow", "identity", "All")
case("NotResource allows every other stream", [doc(st("Allow", "kinesis:PutRecord", SECRET, not_resource=True))], put(), "allow")
case("NotResource does not allow the excluded stream", [doc(st("Allow", "kinesis:PutRecord", SECRET, not_resource=True))],
     put(res=SECRET), "implicit-deny", "identity")

# String operators.
case("StringEquals on aws:PrincipalArn", [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"aws:PrincipalArn": ALICE}}))], put(), "allow")
case("StringEquals on aws:PrincipalArn, another caller", [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"aws:PrincipalArn": ALICE}}))],
     put(who=CAROL), "implicit-deny", "identity")
case("StringNotEquals on aws:PrincipalAccount denies outsiders' accounts only",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:*", condition={"StringNotEquals": {"aws:PrincipalAccount": A}}, sid="OwnAccount"))],
     put(), "allow")
case("StringNotEquals on aws:PrincipalAccount denies another account",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:*", condition={"StringNotEquals": {"aws:PrincipalAccount": B}}, sid="OnlyB"))],
     put(), "explicit-deny", "identity", "OnlyB")
case("StringEqualsIgnoreCase", [doc(st("Allow", "kinesis:PutRecord", condition={"StringEqualsIgnoreCase": {"aws:PrincipalArn": ALICE.upper()}}))], put(), "allow")
case("StringNotEqualsIgnoreCase", [doc(st("Allow", "kinesis:PutRecord", condition={"StringNotEqualsIgnoreCase": {"aws:PrincipalArn": CAROL.upper()}}))], put(), "allow")
case("StringNotEqualsIgnoreCase excludes the named caller", [doc(st("Allow", "kinesis:PutRecord", condition={"StringNotEqualsIgnoreCase": {"aws:PrincipalArn": ALICE.upper()}}))],
     put(), "implicit-deny", "identity")
case("StringLike with wildcards", [doc(st("Allow", "kinesis:PutRecord", condition={"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ali*"}}))], put(), "allow")
case("StringNotLike", [doc(st("Allow", "kinesis:PutRecord", condition={"StringNotLike": {"aws:PrincipalArn": "*:user/car*"}}))], put(), "allow")
case("StringNotLike excludes a matching caller", [doc(st("Allow", "kinesis:PutRecord", condition={"StringNotLike": {"aws:PrincipalArn": "*:user/ali*"}}))],
     put(), "implicit-deny", "identity")
case("several values of one key: any may match", [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"aws:PrincipalArn": [CAROL, ALICE]}}))], put(), "allow")
case("several operators: all must hold",
     [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"aws:PrincipalArn": ALICE}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
     put(ctx={"aws:SourceIp": "192.0.2.1"}), "implicit-deny", "identity")
case("condition keys are case-insensitive", [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"AWS:PRINCIPALARN": ALICE}}))], put(), "allow")

# ARN operators.
case("ArnEquals on aws:PrincipalArn", [doc(st("Allow", "kinesis:PutRecord", condition={"ArnEquals": {"aws:PrincipalArn": ALICE}}))], put(), "allow")
case("ArnLike on aws:PrincipalArn", [doc(st("Allow", "kinesis:PutRecord", condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:user/*"}}))], put(), "allow")
case("ArnLike matches component by component", [doc(st("Allow", "kinesis:PutRecord", condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}))],
     put(), "implicit-deny", "identity")
case("ArnNotEquals denies everyone else",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:PutRecord", condition={"ArnNotEquals": {"aws:PrincipalArn": CAROL}}, sid="OnlyCarol"))],
     put(), "explicit-deny", "identity", "OnlyCarol")
case("ArnNotLike", [doc(st("Allow", "kinesis:PutRecord", condition={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:*"}}))], put(), "allow")

# IP addresses.
case("IpAddress: inside the CIDR", [doc(st("Allow", "kinesis:PutRecord", condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}}))],
     put(ctx={"aws:SourceIp": "127.0.0.1"}), "allow")
case("IpAddress: outside the CIDR", [doc(st("Allow", "kinesis:PutRecord", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
     put(ctx={"aws:SourceIp": "192.0.2.1"}), "implicit-deny", "identity")
case("NotIpAddress denies outside the office",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:*", condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, sid="Office"))],
     put(ctx={"aws:SourceIp": "127.0.0.1"}), "explicit-deny", "identity", "Office")
case("IpAddress with IPv6", [doc(st("Allow", "kinesis:PutRecord", condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}))],
     put(ctx={"aws:SourceIp": "2001:db8:1::7"}), "allow")

# Bool and Null.
case("Bool: deny when not over TLS",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:*", condition={"Bool": {"aws:SecureTransport": "false"}}, sid="TlsOnly"))],
     put(ctx={"aws:SecureTransport": "false"}), "explicit-deny", "identity", "TlsOnly")
case("Bool: allowed over TLS",
     [doc(st("Allow", "kinesis:*", sid="All"), st("Deny", "kinesis:*", condition={"Bool": {"aws:SecureTransport": "false"}}, sid="TlsOnly"))],
     put(ctx={"aws:SecureTransport": "true"}), "allow", "identity", "All")
case("Null true: deny a request without the key",
     [doc(st("Allow", "kinesis:*"), st("Deny", "kinesis:*", condition={"Null": {"aws:SourceIp": "true"}}, sid="NeedIp"))],
     put(), "explicit-deny", "identity", "NeedIp")
case("Null false: allow a request with the key", [doc(st("Allow", "kinesis:PutRecord", condition={"Null": {"aws:SourceIp": "false"}}))],
     put(ctx={"aws:SourceIp": "127.0.0.1"}), "allow")

# Dates.
T = "2026-06-01T12:00:00Z"
case("DateLessThan: before the end", [doc(st("Allow", "kinesis:PutRecord", condition={"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}))],
     put(ctx={"aws:CurrentTime": T}), "allow")
case("DateGreaterThan: not yet", [doc(st("Allow", "kinesis:PutRecord", condition={"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}))],
     put(ctx={"aws:CurrentTime": T}), "implicit-deny", "identity")
case("DateEquals", [doc(st("Allow", "kinesis:PutRecord", condition={"DateEquals": {"aws:CurrentTime": T}}))], put(ctx={"aws:CurrentTime": T}), "allow")
case("DateNotEquals", [doc(st("Allow", "kinesis:PutRecord", condition={"DateNotEquals": {"aws:CurrentTime": T}}))],
     put(ctx={"aws:CurrentTime": T}), "implicit-deny", "identity")
case("DateLessThanEquals at the bound", [doc(st("Allow", "kinesis:PutRecord", condition={"DateLessThanEquals": {"aws:CurrentTime": T}}))],
     put(ctx={"aws:CurrentTime": T}), "allow")
case("DateGreaterThanEquals with epoch seconds", [doc(st("Allow", "kinesis:PutRecord", condition={"DateGreaterThanEquals": {"aws:CurrentTime": "1780315200"}}))],
     put(ctx={"aws:CurrentTime": T}), "allow")

# IfExists.
case("IfExists: an absent key does not stop the allow",
     [doc(st("Allow", "kinesis:PutRecord", condition={"StringEqualsIfExists": {"kinesis:ConsumerName": "app-1"}}))], put(), "allow")
case("IfExists: a present key must match",
     [doc(st("Allow", "kinesis:SubscribeToShard", condition={"StringEqualsIfExists": {"kinesis:ConsumerName": "app-2"}}))],
     (ALICE, "kinesis:SubscribeToShard", CONSUMER), "implicit-deny", "identity")
case("without IfExists an absent key fails the condition",
     [doc(st("Allow", "kinesis:PutRecord", condition={"StringEquals": {"kinesis:ConsumerName": "app-1"}}))], put(), "implicit-deny", "identity")
case("IpAddressIfExists without a source address", [doc(st("Allow", "kinesis:PutRecord", condition={"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}))],
     put(), "allow")

# Multi-valued keys.
case("ForAnyValue: one of the request's values matches",
     [doc(st("Allow", "kinesis:AddTagsToStream", condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}))],
     (ALICE, "kinesis:AddTagsToStream", S, {"aws:TagKeys": ["owner", "env"]}), "allow")
case("ForAllValues: every request value must be listed",
     [doc(st("Allow", "kinesis:AddTagsToStream", condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}))],
     (ALICE, "kinesis:AddTagsToStream", S, {"aws:TagKeys": ["owner", "env"]}), "implicit-deny", "identity")
case("ForAllValues: a subset is allowed",
     [doc(st("Allow", "kinesis:AddTagsToStream", condition={"ForAllValues:StringLike": {"aws:TagKeys": ["team", "env*"]}}))],
     (ALICE, "kinesis:AddTagsToStream", S, {"aws:TagKeys": ["env-name", "team"]}), "allow")
case("ForAllValues over an absent key is true",
     [doc(st("Allow", "kinesis:AddTagsToStream", condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))],
     (ALICE, "kinesis:AddTagsToStream", S), "allow")

# kinesis:ConsumerName.
case("kinesis:ConsumerName from the consumer ARN",
     [doc(st("Allow", "kinesis:SubscribeToShard", condition={"StringEquals": {"kinesis:ConsumerName": "app-1"}}))],
     (ALICE, "kinesis:SubscribeToShard", CONSUMER), "allow")
case("kinesis:ConsumerName of another consumer",
     [doc(st("Allow", "kinesis:SubscribeToShard", condition={"StringLike": {"kinesis:ConsumerName": "billing-*"}}))],
     (ALICE, "kinesis:SubscribeToShard", CONSUMER), "implicit-deny", "identity")

# Resource policies, same account and across accounts.
grant_b = doc(st("Allow", ["kinesis:PutRecord", "kinesis:DescribeStreamSummary"], S, sid="ShareWithB", principal={"AWS": B}))
bob_put = doc(st("Allow", "kinesis:PutRecord", "*", sid="BobPut"))
case("same account: the resource policy alone allows",
     [], put(who=CAROL), "allow", "resource", "CarolWrites",
     resource_policy=doc(st("Allow", "kinesis:PutRecord", S, sid="CarolWrites", principal={"AWS": CAROL})))
case("cross-account: granted by the resource policy and the caller's identity policy",
     [bob_put], put(who=BOB), "allow", "resource", "ShareWithB", resource_policy=grant_b)
case("cross-account: no resource policy", [bob_put], put(who=BOB), "implicit-deny", "resource")
case("cross-account: the resource policy names another account",
     [bob_put], put(who=BOB), "implicit-deny", "resource",
     resource_policy=doc(st("Allow", "kinesis:PutRecord", S, principal={"AWS": "333333333333"})))
case("cross-account: the caller's own account does not allow it",
     [], put(who=BOB), "implicit-deny", "identity", resource_policy=grant_b)
case("cross-account: granted by the caller's ARN (root form of the account too)",
     [bob_put], put(who=BOB), "allow", "resource", "Bob",
     resource_policy=doc(st("Allow", "kinesis:PutRecord", S, sid="Bob", principal={"AWS": [BOB]})))
case("cross-account: an account root principal grants the whole account",
     [bob_put], put(who=BOB), "allow", "resource",
     resource_policy=doc(st("Allow", "kinesis:PutRecord", S, principal={"AWS": f"arn:aws:iam::{B}:root"})))
case("cross-account: the resource policy denies explicitly",
     [bob_put], put(who=BOB), "explicit-deny", "resource", "NoBob",
     resource_policy=doc(st("Allow", "kinesis:*", S, principal={"AWS": B}), st("Deny", "kinesis:PutRecord", S, sid="NoBob", principal={"AWS": BOB})))
case("cross-account: an assumed role's session is matched by the role's ARN",
     [doc(st("Allow", "kinesis:GetRecords"))], (ROLE_SESSION, "kinesis:GetRecords", S), "allow", "resource",
     resource_policy=doc(st("Allow", "kinesis:GetRecords", S, principal={"AWS": f"arn:aws:iam::{B}:role/reader"})))
case("cross-account: a NotPrincipal deny spares the named caller",
     [bob_put], put(who=BOB), "allow", "resource", "AllowB",
     resource_policy=doc(st("Allow", "kinesis:PutRecord", S, sid="AllowB", principal={"AWS": B}),
                         st("Deny", "kinesis:PutRecord", S, principal={"AWS": BOB}, not_principal=True)))
case("a resource policy's explicit deny wins over an identity allow",
     [allow_put], put(), "explicit-deny", "resource", "Freeze",
     resource_policy=doc(st("Deny", "kinesis:Put*", S, sid="Freeze", principal="*")))
case("the account root is allowed by identity in its own account", [], put(who=ROOT), "allow")
case("the account root is still bound by a resource policy's deny", [], put(who=ROOT), "explicit-deny", "resource",
     resource_policy=doc(st("Deny", "kinesis:PutRecord", S, principal={"AWS": A})))
case("another account's root gets nothing without a resource policy", [], put(who=f"arn:aws:iam::{B}:root"), "implicit-deny", "resource")

with open(__file__.replace("gen_cases.py", "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(len(cases), "cases")
