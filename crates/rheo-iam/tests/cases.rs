//! Runs every case of `tests/policy/cases.json` through the evaluator: the same table the
//! `rheo policy simulate --cases` CLI test and the black-box suite run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rheo_iam::cases;
use rheo_iam::Decision;

fn table() -> Vec<cases::Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/policy/cases.json");
    let text = std::fs::read_to_string(path).unwrap();
    cases::load(&text).unwrap()
}

#[test]
fn every_case_of_the_table_gets_its_expected_decision() {
    let all = table();
    assert!(all.len() >= 40, "the table must keep at least 40 cases");
    let failures: Vec<String> = all.iter().filter_map(|c| cases::check(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_each_decision_and_every_operator_family() {
    let all = table();
    for d in [
        Decision::Allow,
        Decision::ImplicitDeny,
        Decision::ExplicitDeny,
    ] {
        assert!(all.iter().any(|c| c.expect.decision == d), "{d:?}");
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/policy/cases.json"
    ))
    .unwrap();
    for needle in [
        "\"StringEquals\"",
        "\"StringNotEquals\"",
        "\"StringEqualsIgnoreCase\"",
        "\"StringNotEqualsIgnoreCase\"",
        "\"StringLike\"",
        "\"StringNotLike\"",
        "\"ArnEquals\"",
        "\"ArnLike\"",
        "\"ArnNotEquals\"",
        "\"ArnNotLike\"",
        "\"IpAddress\"",
        "\"NotIpAddress\"",
        "\"Bool\"",
        "\"Null\"",
        "\"DateEquals\"",
        "\"DateNotEquals\"",
        "\"DateLessThan\"",
        "\"DateLessThanEquals\"",
        "\"DateGreaterThan\"",
        "\"DateGreaterThanEquals\"",
        "IfExists\"",
        "\"ForAnyValue:",
        "\"ForAllValues:",
        "\"NotAction\"",
        "\"NotResource\"",
        "\"NotPrincipal\"",
        "aws:SourceIp",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:SecureTransport",
        "aws:CurrentTime",
        "kinesis:ConsumerName",
    ] {
        assert!(text.contains(needle), "no case uses {needle}");
    }
}

#[test]
fn refusals_carry_aws_wording() {
    let all = table();
    let msg = |name: &str| {
        let c = all.iter().find(|c| c.name == name).unwrap();
        cases::check(c).unwrap().message.unwrap()
    };
    let a = "arn:aws:iam::111111111111:user/alice";
    let b = "arn:aws:iam::222222222222:user/bob";
    let s = "arn:aws:kinesis:us-east-1:111111111111:stream/orders";
    assert_eq!(
        msg("implicit deny: no policy at all"),
        format!("User: {a} is not authorized to perform: kinesis:PutRecord on resource: {s} because no identity-based policy allows the kinesis:PutRecord action")
    );
    assert_eq!(
        msg("explicit deny wins over an allow in the same policy"),
        format!("User: {a} is not authorized to perform: kinesis:PutRecord on resource: {s} with an explicit deny in an identity-based policy")
    );
    assert_eq!(
        msg("cross-account: no resource policy"),
        format!("User: {b} is not authorized to perform: kinesis:PutRecord on resource: {s} because no resource-based policy allows the kinesis:PutRecord action")
    );
    assert_eq!(
        msg("cross-account: the resource policy denies explicitly"),
        format!("User: {b} is not authorized to perform: kinesis:PutRecord on resource: {s} with an explicit deny in a resource-based policy")
    );
}

#[test]
fn a_wrong_expectation_is_reported() {
    let mut c = table().remove(0);
    assert_eq!(c.expect.decision, Decision::Allow);
    c.expect.decision = Decision::ExplicitDeny;
    let err = cases::check(&c).unwrap_err();
    assert!(
        err.contains("expected explicit-deny") && err.contains("got allow"),
        "{err}"
    );
}
