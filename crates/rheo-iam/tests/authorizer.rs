//! The policy middleware in a chain: allow, implicit and explicit deny with AWS's texts, the
//! resource-policy lookup, cross-account access, anonymous callers, actions on no resource.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rheo_http::middleware::{Chain, Request, Resource};
use rheo_http::RequestContext;
use rheo_iam::{Authorizer, Policy, PolicyType, ResourcePolicyLookup};

const ALICE: &str = "arn:aws:iam::111111111111:user/alice";
const BOB: &str = "arn:aws:iam::222222222222:user/bob";

fn stream(name: &str) -> Resource<'_> {
    Resource {
        service: "kinesis",
        kind: "stream",
        name: Some(name),
        arn: None,
    }
}

fn ctx(principal: Option<&str>, account: &str) -> RequestContext {
    let mut c = RequestContext::new(account.into(), Some("127.0.0.1:5000".parse().unwrap()));
    c.region = "us-east-1".into();
    c.principal_arn = principal.map(Arc::from);
    c
}

fn authorizer() -> Authorizer {
    let alice = vec![
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Rw","Effect":"Allow","Action":["kinesis:Put*","kinesis:Get*","kinesis:ListStreams"],"Resource":"*"},
           {"Sid":"NotFromHere","Effect":"Deny","Action":"kinesis:PutRecord","Resource":"arn:aws:kinesis:*:*:stream/local-only","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}"#
            .to_string(),
    ];
    let bob =
        vec![r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}"#.to_string()];
    let shared = Arc::new(
        Policy::parse(
            "shared",
            PolicyType::Resource,
            r#"{"Statement":{"Sid":"B","Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"kinesis:PutRecord","Resource":"arn:aws:kinesis:us-east-1:111111111111:stream/shared"}}"#,
        )
        .unwrap(),
    );
    let lookup: ResourcePolicyLookup = Arc::new(move |arn: &str| {
        (arn == "arn:aws:kinesis:us-east-1:111111111111:stream/shared").then(|| shared.clone())
    });
    Authorizer::new(
        [
            (ALICE, "111111111111", alice.as_slice()),
            (BOB, "222222222222", bob.as_slice()),
        ],
        lookup,
    )
    .unwrap()
}

fn run(
    chain: &Chain,
    c: &RequestContext,
    action: &'static str,
    resources: &[Resource<'_>],
) -> Result<(), String> {
    chain
        .before(&Request {
            context: c,
            action,
            resources,
        })
        .map_err(|r| {
            assert_eq!((r.error_type, r.status), ("AccessDeniedException", 400));
            r.message
        })
}

#[test]
fn the_chain_allows_and_refuses_in_aws_words() {
    let chain = Chain::new().with(authorizer());
    let alice = ctx(Some(ALICE), "111111111111");
    assert_eq!(
        run(&chain, &alice, "kinesis:PutRecord", &[stream("orders")]),
        Ok(())
    );
    assert_eq!(run(&chain, &alice, "kinesis:ListStreams", &[]), Ok(()));
    assert_eq!(
        run(&chain, &alice, "kinesis:DeleteStream", &[stream("orders")]).unwrap_err(),
        format!("User: {ALICE} is not authorized to perform: kinesis:DeleteStream on resource: arn:aws:kinesis:us-east-1:111111111111:stream/orders because no identity-based policy allows the kinesis:DeleteStream action")
    );
    assert_eq!(
        run(&chain, &alice, "kinesis:PutRecord", &[stream("local-only")]).unwrap_err(),
        format!("User: {ALICE} is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:111111111111:stream/local-only with an explicit deny in an identity-based policy")
    );
    assert_eq!(
        run(&chain, &alice, "kinesis:DescribeLimits", &[]).unwrap_err(),
        format!("User: {ALICE} is not authorized to perform: kinesis:DescribeLimits on resource: arn:aws:kinesis:us-east-1:111111111111:* because no identity-based policy allows the kinesis:DescribeLimits action")
    );
    // Every resource a request names must be allowed.
    let consumer = Resource {
        kind: "consumer",
        arn: Some("arn:aws:kinesis:us-east-1:111111111111:stream/orders/consumer/c:1"),
        ..stream("orders")
    };
    assert!(run(
        &chain,
        &alice,
        "kinesis:GetRecords",
        &[stream("orders"), consumer]
    )
    .is_ok());
}

#[test]
fn another_account_needs_the_resource_policy() {
    let chain = Chain::new().with(authorizer());
    let bob = ctx(Some(BOB), "222222222222");
    let shared = Resource {
        arn: Some("arn:aws:kinesis:us-east-1:111111111111:stream/shared"),
        ..stream("shared")
    };
    let private = Resource {
        arn: Some("arn:aws:kinesis:us-east-1:111111111111:stream/orders"),
        ..stream("orders")
    };
    assert_eq!(run(&chain, &bob, "kinesis:PutRecord", &[shared]), Ok(()));
    // The allowed request is marked as granted by the owner's account, for the domain.
    assert_eq!(
        bob.granted_account.get().map(|a| &**a),
        Some("111111111111")
    );
    let bob = ctx(Some(BOB), "222222222222");
    assert_eq!(
        run(&chain, &bob, "kinesis:GetRecords", &[shared]).unwrap_err(),
        format!("User: {BOB} is not authorized to perform: kinesis:GetRecords on resource: arn:aws:kinesis:us-east-1:111111111111:stream/shared because no resource-based policy allows the kinesis:GetRecords action")
    );
    assert!(run(&chain, &bob, "kinesis:PutRecord", &[private])
        .unwrap_err()
        .contains("because no resource-based policy allows"));
    // A refusal grants nothing.
    assert!(bob.granted_account.get().is_none());
    // Bob's own streams are his identity policy's business, and no grant of another account.
    assert_eq!(
        run(&chain, &bob, "kinesis:DeleteStream", &[stream("mine")]),
        Ok(())
    );
    assert!(bob.granted_account.get().is_none());
}

#[test]
fn callers_without_an_identity_or_policies_are_refused() {
    let chain = Chain::new().with(authorizer());
    assert_eq!(
        run(&chain, &ctx(None, "111111111111"), "kinesis:PutRecord", &[stream("orders")]).unwrap_err(),
        "User: anonymous is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:111111111111:stream/orders because no identity-based policy allows the kinesis:PutRecord action"
    );
    let stranger = "arn:aws:iam::111111111111:user/nobody";
    assert!(run(
        &chain,
        &ctx(Some(stranger), "111111111111"),
        "kinesis:PutRecord",
        &[stream("orders")]
    )
    .unwrap_err()
    .starts_with(&format!("User: {stranger} is not authorized")));
    let root = "arn:aws:iam::111111111111:root";
    assert_eq!(
        run(
            &chain,
            &ctx(Some(root), "111111111111"),
            "kinesis:DeleteStream",
            &[stream("orders")]
        ),
        Ok(())
    );
}

#[test]
fn an_invalid_identity_policy_is_refused_at_construction() {
    let bad = vec![r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*"}}"#.to_string()];
    let lookup: ResourcePolicyLookup = Arc::new(|_: &str| None);
    let Err((who, e)) = Authorizer::new([(ALICE, "111111111111", bad.as_slice())], lookup) else {
        panic!("a policy without Resource must be refused");
    };
    assert!(who.contains("alice") && who.contains("policy 1"), "{who}");
    assert_eq!(e.to_string(), "Missing required field Resource");
}
