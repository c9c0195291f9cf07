//! Verification against AWS's published SigV4 test-suite vectors, then every refusal.

use std::path::Path;

use http::{HeaderMap, HeaderValue, Version};
use sha2::{Digest, Sha256};

use crate::verify::derive_key;
use crate::{Credentials, Request, Verifier};

/// The test suite's credentials (AWS's documented example key).
const SUITE_KEY: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 20150830T123600Z, the suite's request time.
const SUITE_NOW: i64 = 1_440_938_160;

fn verifier(extra: &str) -> Verifier {
    let text = format!(
        "[[principal]]\naccess_key_id = \"{SUITE_KEY}\"\nsecret_access_key = \"{SUITE_SECRET}\"\naccount = \"111111111111\"\n{extra}"
    );
    Verifier::new(Credentials::from_toml_str(&text, Path::new(".")).unwrap())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn suite_auth(signed: &str, signature: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={SUITE_KEY}/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}")
}

/// Verify `method path?query` with `hdrs` (Authorization included) and `body` at `now`.
fn check(
    v: &Verifier,
    method: &str,
    path: &str,
    query: Option<&str>,
    hdrs: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<String, (String, String, u16)> {
    let auth = rheo_proto::parse_auth(hdrs, query, Version::HTTP_11, "service")
        .map_err(|e| (e.error_type().to_string(), e.message(), e.status()))?;
    let req = Request {
        method,
        path,
        query,
        authority: None,
        headers: hdrs,
        body,
    };
    v.verify(&req, &auth, now)
        .map(|a| a.principal.access_key_id.clone())
        .map_err(|e| (e.error_type().to_string(), e.message(), e.status()))
}

#[test]
fn aws_test_suite_vectors_verify() {
    let v = verifier("");
    let base = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ];
    // get-vanilla, get-vanilla-query-order-key-case, post-vanilla.
    for (method, query, sig) in [
        (
            "GET",
            None,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "GET",
            Some("Param2=value2&Param1=value1"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "POST",
            None,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
    ] {
        let mut h = headers(&base);
        h.insert(
            "authorization",
            HeaderValue::from_str(&suite_auth("host;x-amz-date", sig)).unwrap(),
        );
        assert_eq!(
            check(&v, method, "/", query, &h, b"", SUITE_NOW).as_deref(),
            Ok(SUITE_KEY),
            "{method} {query:?}"
        );
    }
    // post-x-www-form-urlencoded: a signed body and its x-amz-content-sha256.
    let body = b"Param1=value1";
    let body_hash = hex::encode(Sha256::digest(body));
    assert_eq!(
        body_hash,
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
    );
    let signed = "content-length;content-type;host;x-amz-content-sha256;x-amz-date";
    let h = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("content-length", "13"),
        ("x-amz-content-sha256", &body_hash),
        (
            "authorization",
            &suite_auth(
                signed,
                "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
            ),
        ),
    ]);
    assert_eq!(
        check(&v, "POST", "/", None, &h, body, SUITE_NOW).as_deref(),
        Ok(SUITE_KEY)
    );
}

#[test]
fn the_derived_key_is_the_documented_one() {
    // AWS's documented example of the key derivation (IAM, 20150830, us-east-1).
    assert_eq!(
        hex::encode(derive_key(SUITE_SECRET, "20150830", "us-east-1", "iam")),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

#[test]
fn derived_keys_are_cached_per_scope() {
    let v = verifier("");
    let mut h = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    h.insert(
        "authorization",
        HeaderValue::from_str(&suite_auth(
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ))
        .unwrap(),
    );
    for _ in 0..3 {
        assert!(check(&v, "GET", "/", None, &h, b"", SUITE_NOW).is_ok());
    }
    assert_eq!(v.cached_keys(SUITE_KEY), 1);
    // Another region is another key; the cache stays bounded.
    for day in 0..20 {
        let auth = rheo_proto::AuthInfo {
            access_key_id: SUITE_KEY.into(),
            region: "us-east-1".into(),
            service: "service".into(),
            scope_date: format!("201509{:02}", day + 1),
            amz_date: None,
            signed_headers: vec!["host".into()],
            signature: String::new(),
            security_token: None,
            presigned: false,
        };
        let _ = v.key_for_test(&auth);
    }
    assert_eq!(v.cached_keys(SUITE_KEY), 8);
}

/// A request to `/` of `service`, signed with `secret` at `at` (a test-side signer over the
/// same canonical form, anchored by the suite vectors above).
fn signed_request(
    secret: &str,
    key_id: &str,
    at: i64,
    body: &[u8],
    token: Option<&str>,
) -> HeaderMap {
    let stamp = crate::time::format_basic(at);
    let date = stamp.get(..8).unwrap().to_string();
    let mut h = headers(&[
        ("host", "localhost:4567"),
        ("x-amz-date", &stamp),
        ("content-type", "application/x-amz-json-1.1"),
    ]);
    let mut signed = "content-type;host;x-amz-date".to_string();
    if let Some(t) = token {
        h.insert("x-amz-security-token", HeaderValue::from_str(t).unwrap());
        signed.push_str(";x-amz-security-token");
    }
    let names: Vec<String> = signed.split(';').map(str::to_string).collect();
    let mut canonical = String::from("POST\n/\n\n");
    crate::canonical::canonical_headers(&mut canonical, &h, &names, None);
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(&hex::encode(Sha256::digest(body)));
    let sts = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{date}/us-east-1/service/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = derive_key(secret, &date, "us-east-1", "service");
    let sig = {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(sts.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential={key_id}/{date}/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}"
        ))
        .unwrap(),
    );
    h
}

const NOW: i64 = 1_765_000_000;
const BODY: &[u8] = br#"{"StreamName":"s"}"#;

fn post(
    v: &Verifier,
    h: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<String, (String, String, u16)> {
    check(v, "POST", "/", None, h, body, now)
}

#[test]
fn a_correctly_signed_request_names_its_principal() {
    let v = verifier("");
    let h = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
    assert_eq!(post(&v, &h, BODY, NOW).as_deref(), Ok(SUITE_KEY));
    // Within the skew either way.
    assert!(post(&v, &h, BODY, NOW + 299).is_ok());
    assert!(post(&v, &h, BODY, NOW - 299).is_ok());
    let ident = v.identity(SUITE_KEY).unwrap();
    assert_eq!(&*ident.account, "111111111111");
    assert_eq!(&*ident.arn, "arn:aws:iam::111111111111:user/AKIDEXAMPLE");
}

#[test]
fn a_wrong_secret_is_a_mismatch_with_the_expected_strings() {
    let v = verifier("");
    let h = signed_request("not-the-secret", SUITE_KEY, NOW, BODY, None);
    let (ty, msg, status) = post(&v, &h, BODY, NOW).unwrap_err();
    assert_eq!((ty.as_str(), status), ("InvalidSignatureException", 400));
    let stamp = crate::time::format_basic(NOW);
    let body_hash = hex::encode(Sha256::digest(BODY));
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:localhost:4567\nx-amz-date:{stamp}\n\ncontent-type;host;x-amz-date\n{body_hash}"
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{}/us-east-1/service/aws4_request\n{}",
        &stamp[..8],
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    assert_eq!(
        msg,
        format!("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n")
    );
}

#[test]
fn a_tampered_body_is_a_mismatch() {
    let v = verifier("");
    let h = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
    let (ty, msg, _) = post(&v, &h, br#"{"StreamName":"t"}"#, NOW).unwrap_err();
    assert_eq!(ty, "InvalidSignatureException");
    assert!(msg.starts_with("The request signature we calculated does not match"));
}

#[test]
fn a_malformed_signature_is_a_mismatch() {
    let v = verifier("");
    for bad in ["zz", "abcd", &"0".repeat(64)] {
        let mut h = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
        let auth = h["authorization"].to_str().unwrap().to_string();
        let cut = auth.rfind("Signature=").unwrap() + "Signature=".len();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("{}{bad}", &auth[..cut])).unwrap(),
        );
        let (ty, msg, _) = post(&v, &h, BODY, NOW).unwrap_err();
        assert_eq!(ty, "InvalidSignatureException", "{bad}");
        assert!(
            msg.starts_with("The request signature we calculated"),
            "{bad}"
        );
    }
}

#[test]
fn an_unknown_key_is_an_unrecognized_client() {
    let v = verifier("");
    let h = signed_request(SUITE_SECRET, "AKIDNOBODY", NOW, BODY, None);
    assert_eq!(
        post(&v, &h, BODY, NOW).unwrap_err(),
        (
            "UnrecognizedClientException".into(),
            "The security token included in the request is invalid.".into(),
            400
        )
    );
}

#[test]
fn clock_skew_beyond_five_minutes_is_refused_both_ways() {
    let v = verifier("");
    // Signed 2015-08-30T12:36:00Z, checked 10 minutes later and 10 minutes earlier.
    let h = signed_request(SUITE_SECRET, SUITE_KEY, SUITE_NOW, BODY, None);
    assert_eq!(
        post(&v, &h, BODY, SUITE_NOW + 600).unwrap_err(),
        (
            "InvalidSignatureException".into(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)".into(),
            400
        )
    );
    assert_eq!(
        post(&v, &h, BODY, SUITE_NOW - 600).unwrap_err(),
        (
            "InvalidSignatureException".into(),
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z (20150830T122600Z + 5 min.)".into(),
            400
        )
    );
}

#[test]
fn session_tokens_must_match_exactly() {
    let v = verifier("session_token = \"the-token\"\n");
    let ok = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, Some("the-token"));
    assert!(post(&v, &ok, BODY, NOW).is_ok());
    let unrecognized = (
        "UnrecognizedClientException".to_string(),
        "The security token included in the request is invalid.".to_string(),
        400,
    );
    let wrong = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, Some("the-tokem"));
    assert_eq!(post(&v, &wrong, BODY, NOW).unwrap_err(), unrecognized);
    let missing = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
    assert_eq!(post(&v, &missing, BODY, NOW).unwrap_err(), unrecognized);
    // A long-term key sent with a token is not one AWS would know either.
    let v = verifier("");
    let extra = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, Some("t"));
    assert_eq!(post(&v, &extra, BODY, NOW).unwrap_err(), unrecognized);
}

#[test]
fn payload_hash_forms() {
    let v = verifier("");
    let good = hex::encode(Sha256::digest(BODY));
    let mut h = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
    // The body's own hash, sent unsigned, is fine.
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_str(&good).unwrap(),
    );
    assert!(post(&v, &h, BODY, NOW).is_ok());
    // Another hash is a mismatch even though the signature covers the real body.
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_str(&"a".repeat(64)).unwrap(),
    );
    assert_eq!(
        post(&v, &h, BODY, NOW).unwrap_err().0,
        "InvalidSignatureException"
    );
    // UNSIGNED-PAYLOAD: a JSON service hashes the body anyway, so a client that signed the
    // literal fails and one that signed the body passes.
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    assert!(post(&v, &h, BODY, NOW).is_ok());
    // Chunked uploads are refused before anything else.
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    );
    let (ty, msg, status) = post(&v, &h, BODY, NOW).unwrap_err();
    assert_eq!((ty.as_str(), status), ("InvalidSignatureException", 400));
    assert!(msg.contains("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), "{msg}");
}

/// A presigned GET of `/?Action=x` at `at`, valid for `expires` seconds.
fn presigned_query(at: i64, expires: &str) -> String {
    let stamp = crate::time::format_basic(at);
    let date = &stamp[..8];
    let unsigned = format!(
        "Action=x&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={SUITE_KEY}%2F{date}%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date={stamp}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    let canonical = format!(
        "GET\n/\n{}\nhost:localhost:4567\n\nhost\n{}",
        crate::canonical::canonical_query(Some(&unsigned), true),
        hex::encode(Sha256::digest(b""))
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{date}/us-east-1/service/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = derive_key(SUITE_SECRET, date, "us-east-1", "service");
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(sts.as_bytes());
    format!(
        "{unsigned}&X-Amz-Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[test]
fn presigned_requests_live_for_their_expiry() {
    let v = verifier("");
    let h = headers(&[("host", "localhost:4567")]);
    let q = presigned_query(SUITE_NOW, "900");
    let get = |now| check(&v, "GET", "/", Some(&q), &h, b"", now);
    assert_eq!(get(SUITE_NOW).as_deref(), Ok(SUITE_KEY));
    // Past the 5-minute skew but within X-Amz-Expires: still good.
    assert!(get(SUITE_NOW + 899).is_ok());
    assert_eq!(
        get(SUITE_NOW + 1000).unwrap_err(),
        (
            "InvalidSignatureException".into(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123740Z (20150830T125240Z - 900 sec.)".into(),
            400
        )
    );
    assert_eq!(
        get(SUITE_NOW - 600).unwrap_err().1.split(':').next(),
        Some("Signature not yet current")
    );
    // A changed parameter breaks the signature.
    let tampered = q.replace("Action=x", "Action=y");
    let (ty, msg, _) = check(&v, "GET", "/", Some(&tampered), &h, b"", SUITE_NOW).unwrap_err();
    assert_eq!(ty, "InvalidSignatureException");
    assert!(msg.contains("Action=y&X-Amz-Algorithm"), "{msg}");
}

#[test]
fn presigned_expiry_must_be_a_week_at_most() {
    let v = verifier("");
    let h = headers(&[("host", "localhost:4567")]);
    for (expires, want) in [
        (
            "0",
            "X-Amz-Expires must be between 1 and 604800 seconds (a week), not 0.",
        ),
        (
            "604801",
            "X-Amz-Expires must be between 1 and 604800 seconds (a week), not 604801.",
        ),
        ("soon", "X-Amz-Expires should be a number, not 'soon'."),
    ] {
        let q = presigned_query(SUITE_NOW, expires);
        assert_eq!(
            check(&v, "GET", "/", Some(&q), &h, b"", SUITE_NOW).unwrap_err(),
            ("IncompleteSignatureException".into(), want.into(), 400),
            "{expires}"
        );
    }
    assert!(check(
        &v,
        "GET",
        "/",
        Some(&presigned_query(SUITE_NOW, "604800")),
        &h,
        b"",
        SUITE_NOW + 604_000
    )
    .is_ok());
}

#[test]
fn a_date_header_can_stand_for_x_amz_date() {
    let v = verifier("");
    let mut h = signed_request(SUITE_SECRET, SUITE_KEY, SUITE_NOW, BODY, None);
    h.remove("x-amz-date");
    h.insert(
        "date",
        HeaderValue::from_static("Sun, 30 Aug 2015 12:36:00 GMT"),
    );
    // The signature named x-amz-date, which is gone now: a mismatch, not a date error.
    let (ty, msg, _) = post(&v, &h, BODY, SUITE_NOW).unwrap_err();
    assert_eq!(ty, "InvalidSignatureException");
    assert!(msg.contains("\nx-amz-date:\n"), "{msg}");
    assert!(
        msg.contains("AWS4-HMAC-SHA256\n20150830T123600Z\n"),
        "{msg}"
    );
    h.insert("date", HeaderValue::from_static("yesterday"));
    let (ty, _, _) = post(&v, &h, BODY, SUITE_NOW).unwrap_err();
    assert_eq!(ty, "IncompleteSignatureException");
}

#[test]
fn over_http2_the_authority_is_signed() {
    let v = verifier("");
    // Sign with host, then send without a host header but with the same authority.
    let mut h = signed_request(SUITE_SECRET, SUITE_KEY, NOW, BODY, None);
    h.remove("host");
    let auth = rheo_proto::parse_auth(&h, None, Version::HTTP_2, "service").unwrap();
    let req = Request {
        method: "POST",
        path: "/",
        query: None,
        authority: Some("localhost:4567"),
        headers: &h,
        body: BODY,
    };
    assert!(v.verify(&req, &auth, NOW).is_ok());
}
