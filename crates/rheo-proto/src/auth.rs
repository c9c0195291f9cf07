//! SigV4 request authentication data: presence and shape checks, no signature verification.
//!
//! Like other local emulators, Rheo cannot verify signatures (it does not know the callers' secret
//! keys), but it does insist on a well-formed `Authorization` header (or presigned query), because real
//! clients always send one and because the credential scope carries the region, which namespaces
//! streams and goes into ARNs.
//!
//! Checks happen in AWS's order, each failing with AWS's exception type and wording:
//! 1. header and `X-Amz-Algorithm` query both present -> InvalidSignatureException;
//!    neither -> MissingAuthenticationTokenException;
//! 2. missing `Credential` / `Signature` / `SignedHeaders` parameters or date header (or, for query
//!    auth, missing `X-Amz-*` parameters) -> IncompleteSignatureException listing all of them;
//! 3. `host` not among the signed headers -> InvalidSignatureException (over HTTP/2 a signed
//!    `:authority` stands for `host`, as it does on AWS: the host travels in that pseudo-header
//!    there, and the JavaScript SDK v3 signs it instead of `host`);
//! 4. algorithm other than `AWS4-HMAC-SHA256`, an `X-Amz-Date` not in ISO-8601 basic format, or a
//!    credential that is not five slash-separated parts -> IncompleteSignatureException;
//! 5. a bad scope (region, service, terminator, date) -> InvalidSignatureException listing every problem.

use http::{HeaderMap, Version};

use crate::WireError;

/// The only algorithm AWS accepts.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What the SigV4 data of a request says about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// Region from the credential scope (e.g. `us-east-1`).
    pub region: String,
    /// Service from the credential scope (the expected signing name once accepted).
    pub service: String,
    /// Date from the credential scope, `YYYYMMDD`.
    pub scope_date: String,
    /// `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`), when the request carried one.
    pub amz_date: Option<String>,
    /// Signed header names, lowercase.
    pub signed_headers: Vec<String>,
    /// The signature as sent (not verified).
    pub signature: String,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub security_token: Option<String>,
    /// Whether the data came from presigned query parameters rather than the Authorization header.
    pub presigned: bool,
}

/// Parse and check the SigV4 data of a request. `query` is the raw query string (without `?`);
/// `version` is the request's HTTP version (it decides whether a signed `:authority` can stand
/// for `host`); `service` is the signing name the credential scope must name (the model's
/// `signingName`, e.g. `kinesis`, `dynamodb`, `monitoring`), so one parser serves every service.
pub fn parse_auth(
    headers: &HeaderMap,
    query: Option<&str>,
    version: Version,
    service: &str,
) -> Result<AuthInfo, WireError> {
    let params = query.map(parse_query).unwrap_or_default();
    let qparam = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());

    // A header that is not visible ASCII is treated as present but unusable.
    let auth_header = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let query_auth = qparam("X-Amz-Algorithm").is_some();
    match (&auth_header, query_auth) {
        (Some(_), true) => {
            return Err(WireError::InvalidSignature(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".into(),
            ))
        }
        (None, false) => return Err(WireError::MissingAuthenticationToken),
        _ => {}
    }

    let security_token = header("x-amz-security-token")
        .or_else(|| qparam("X-Amz-Security-Token"))
        .map(str::to_string);

    let (algorithm, credential, signed_headers, signature, amz_date, presigned) = match auth_header
    {
        Some(auth) => {
            let mut tokens = auth.split([',', ' ']).filter(|t| !t.is_empty());
            let algorithm = tokens.next().unwrap_or_default().to_string();
            let mut fields: Vec<(&str, &str)> = Vec::new();
            for token in tokens {
                let (k, v) = token.trim().split_once('=').unwrap_or((token.trim(), ""));
                fields.push((k, v));
            }
            let field = |name: &str| {
                fields
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| *v)
                    .filter(|v| !v.is_empty())
            };
            let mut msg = String::new();
            for name in ["Credential", "Signature", "SignedHeaders"] {
                if field(name).is_none() {
                    msg.push_str(&format!(
                        "Authorization header requires '{name}' parameter. "
                    ));
                }
            }
            let amz_date = header("x-amz-date").map(str::to_string);
            if amz_date.is_none() && headers.get(http::header::DATE).is_none() {
                msg.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
            }
            if !msg.is_empty() {
                msg.push_str(&format!("Authorization={auth}"));
                return Err(WireError::IncompleteSignature(msg));
            }
            (
                algorithm,
                field("Credential").unwrap_or_default().to_string(),
                field("SignedHeaders").unwrap_or_default().to_string(),
                field("Signature").unwrap_or_default().to_string(),
                amz_date,
                false,
            )
        }
        None => {
            let mut msg = String::new();
            for name in [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Signature",
                "X-Amz-SignedHeaders",
                "X-Amz-Date",
            ] {
                if qparam(name).is_none_or(str::is_empty) {
                    msg.push_str(&format!(
                        "AWS query-string parameters must include '{name}'. "
                    ));
                }
            }
            if !msg.is_empty() {
                msg.push_str("Re-examine the query-string parameters.");
                return Err(WireError::IncompleteSignature(msg));
            }
            let q = |name: &str| qparam(name).unwrap_or_default().to_string();
            (
                q("X-Amz-Algorithm"),
                q("X-Amz-Credential"),
                q("X-Amz-SignedHeaders"),
                q("X-Amz-Signature"),
                Some(q("X-Amz-Date")),
                true,
            )
        }
    };

    let signed: Vec<String> = signed_headers
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    // HTTP/2 and later carry the host only as the `:authority` pseudo-header, so a client that
    // signs what it sends signs that; over HTTP/1.1 there are no pseudo-headers and `host` it is.
    let pseudo_headers = matches!(version, Version::HTTP_2 | Version::HTTP_3);
    let host_signed = signed
        .iter()
        .any(|h| h == "host" || (pseudo_headers && h == ":authority"));
    if !host_signed {
        // AWS names `:authority` in the message only where it would have accepted it.
        let message = if pseudo_headers {
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        } else {
            "'Host' must be a 'SignedHeader' in the AWS Authorization."
        };
        return Err(WireError::InvalidSignature(message.into()));
    }
    if algorithm != ALGORITHM {
        return Err(WireError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). "
        )));
    }
    if let Some(date) = &amz_date {
        if !is_basic_iso8601(date) {
            return Err(WireError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )));
        }
    }

    // Trailing slashes are ignored by AWS when counting the parts.
    let parts: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
    let [key_id, scope_date, region, scope_service, terminator] = parts.as_slice() else {
        return Err(WireError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    let mut problems = Vec::new();
    if !is_valid_region(region) {
        problems.push(format!(
            "Credential should be scoped to a valid region, not '{region}'."
        ));
    }
    if *scope_service != service {
        problems.push(format!(
            "Credential should be scoped to correct service: '{service}'."
        ));
    }
    if *terminator != "aws4_request" {
        problems.push(format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."));
    }
    if let Some(date) = &amz_date {
        let day = date.get(..8).unwrap_or(date);
        if *scope_date != day {
            problems.push(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{day}', from '{date}'."
            ));
        }
    }
    if !problems.is_empty() {
        return Err(WireError::InvalidSignature(problems.join(" ")));
    }
    if key_id.is_empty() {
        // AWS answers an empty key id with its "security token is invalid" error.
        return Err(WireError::InvalidSignature(
            "The security token included in the request is invalid.".into(),
        ));
    }

    Ok(AuthInfo {
        access_key_id: (*key_id).to_string(),
        region: (*region).to_string(),
        service: (*scope_service).to_string(),
        scope_date: (*scope_date).to_string(),
        amz_date,
        signed_headers: signed,
        signature,
        security_token,
        presigned,
    })
}

/// `YYYYMMDDTHHMMSSZ`.
fn is_basic_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Region names are lowercase letters, digits and dashes (`us-east-1`, `eu-central-2`, or a local
/// name such as `local`); anything else cannot be an AWS region.
fn is_valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Split and percent-decode a query string. `+` means space, as in form encoding.
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/kinesis/aws4_request, \
                        SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abcdef0123";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn err(h: &HeaderMap, q: Option<&str>) -> (String, String) {
        let e = parse_auth(h, q, Version::HTTP_11, "kinesis").unwrap_err();
        (e.error_type().to_string(), e.message())
    }

    #[test]
    fn well_formed_header_extracts_scope() {
        let h = headers(&[
            ("authorization", GOOD),
            ("x-amz-date", "20240102T030405Z"),
            ("x-amz-security-token", "tok"),
        ]);
        let info = parse_auth(&h, None, Version::HTTP_11, "kinesis").unwrap();
        assert_eq!(info.access_key_id, "AKIDEXAMPLE");
        assert_eq!(info.region, "eu-west-1");
        assert_eq!(info.service, "kinesis");
        assert_eq!(info.scope_date, "20240102");
        assert_eq!(info.amz_date.as_deref(), Some("20240102T030405Z"));
        assert_eq!(
            info.signed_headers,
            ["content-type", "host", "x-amz-date", "x-amz-target"]
        );
        assert_eq!(info.signature, "abcdef0123");
        assert_eq!(info.security_token.as_deref(), Some("tok"));
        assert!(!info.presigned);
    }

    #[test]
    fn the_scope_must_name_the_expected_service_whichever_it_is() {
        let dynamo = GOOD.replace("/kinesis/", "/dynamodb/");
        let h = headers(&[
            ("authorization", &dynamo),
            ("x-amz-date", "20240102T030405Z"),
        ]);
        assert_eq!(
            parse_auth(&h, None, Version::HTTP_11, "dynamodb")
                .unwrap()
                .service,
            "dynamodb"
        );
        let e = parse_auth(&h, None, Version::HTTP_11, "kinesis").unwrap_err();
        assert_eq!(e.error_type(), "InvalidSignatureException");
        assert_eq!(
            e.message(),
            "Credential should be scoped to correct service: 'kinesis'."
        );
        let h = headers(&[("authorization", GOOD), ("x-amz-date", "20240102T030405Z")]);
        let e = parse_auth(&h, None, Version::HTTP_11, "monitoring").unwrap_err();
        assert_eq!(
            e.message(),
            "Credential should be scoped to correct service: 'monitoring'."
        );
    }

    #[test]
    fn date_header_is_enough() {
        let h = headers(&[
            ("authorization", GOOD),
            ("date", "Tue, 02 Jan 2024 03:04:05 GMT"),
        ]);
        assert_eq!(
            parse_auth(&h, None, Version::HTTP_11, "kinesis")
                .unwrap()
                .amz_date,
            None
        );
    }

    #[test]
    fn presence_errors() {
        assert_eq!(
            err(&HeaderMap::new(), None),
            (
                "MissingAuthenticationTokenException".into(),
                "Missing Authentication Token".into()
            )
        );
        // Query parameters without X-Amz-Algorithm do not count as query auth.
        let q = "X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d";
        assert_eq!(
            err(&HeaderMap::new(), Some(q)).0,
            "MissingAuthenticationTokenException"
        );
        let h = headers(&[("authorization", "X")]);
        assert_eq!(
            err(&h, Some("X-Amz-Algorithm")),
            (
                "InvalidSignatureException".into(),
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".into()
            )
        );
    }

    #[test]
    fn incomplete_header_messages() {
        let table = [
            (
                vec![("authorization", "X")],
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. \
                 Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either \
                 a 'X-Amz-Date' or a 'Date' header. Authorization=X",
            ),
            (
                vec![("authorization", "AWS4- Signature=b Credential=a"), ("date", "a")],
                "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b Credential=a",
            ),
            (
                vec![("authorization", "AWS4- Signature=b,Credential=a"), ("date", "a")],
                "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b,Credential=a",
            ),
            (
                vec![("authorization", "AWS4- Signature=b, Credential=a"), ("date", "a")],
                "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b, Credential=a",
            ),
        ];
        for (pairs, want) in table {
            assert_eq!(
                err(&headers(&pairs), None),
                ("IncompleteSignatureException".into(), want.to_string())
            );
        }
    }

    #[test]
    fn incomplete_query_messages() {
        assert_eq!(
            err(&HeaderMap::new(), Some("X-Amz-Algorithm")).1,
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include \
             'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters \
             must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the \
             query-string parameters."
        );
        assert_eq!(
            err(&HeaderMap::new(), Some("X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d")),
            (
                "IncompleteSignatureException".into(),
                "AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.".into()
            )
        );
    }

    #[test]
    fn presigned_query_is_accepted() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240102%2Fus-east-1%2Fkinesis%2Faws4_request\
                 &X-Amz-Date=20240102T030405Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=ff\
                 &X-Amz-Security-Token=a%2Bb";
        let info = parse_auth(&HeaderMap::new(), Some(q), Version::HTTP_11, "kinesis").unwrap();
        assert_eq!(
            (info.access_key_id.as_str(), info.region.as_str()),
            ("AKID", "us-east-1")
        );
        assert_eq!(info.security_token.as_deref(), Some("a+b"));
        assert!(info.presigned);
    }

    #[test]
    fn scope_and_format_errors() {
        let with = |auth: &str, date: &str| {
            err(
                &headers(&[("authorization", auth), ("x-amz-date", date)]),
                None,
            )
        };
        let sh = "SignedHeaders=host;x-amz-date, Signature=s";
        assert_eq!(
            with(&format!("AWS4-HMAC-SHA256 Credential=a/b/c/d, {sh}"), "20240102T030405Z"),
            (
                "IncompleteSignatureException".into(),
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'".into()
            )
        );
        assert_eq!(
            with(&format!("AWS4-HMAC-SHA256 Credential=a/b/C!/d/e, {sh}"), "20130609T095204Z"),
            (
                "InvalidSignatureException".into(),
                "Credential should be scoped to a valid region, not 'C!'. Credential should be scoped to correct service: \
                 'kinesis'. Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. Date in Credential \
                 scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'b' != '20130609', from \
                 '20130609T095204Z'."
                    .into()
            )
        );
        assert_eq!(
            with(
                &format!(
                    "AWS4-HMAC-SHA512 Credential=a/20240102/us-east-1/kinesis/aws4_request, {sh}"
                ),
                "20240102T030405Z"
            ),
            (
                "IncompleteSignatureException".into(),
                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "
                    .into()
            )
        );
        assert_eq!(
            with("AWS4-HMAC-SHA256 Credential=a/20240102/us-east-1/kinesis/aws4_request, SignedHeaders=x-amz-date, Signature=s", "20240102T030405Z"),
            ("InvalidSignatureException".into(), "'Host' must be a 'SignedHeader' in the AWS Authorization.".into())
        );
        assert_eq!(
            with(&format!("AWS4-HMAC-SHA256 Credential=a/20240102/us-east-1/kinesis/aws4_request, {sh}"), "2024-01-02"),
            (
                "IncompleteSignatureException".into(),
                "Date must be in ISO-8601 'basic format'. Got '2024-01-02'. See http://en.wikipedia.org/wiki/ISO_8601".into()
            )
        );
        // Trailing slashes are ignored when counting credential parts.
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=k/20240102/us-east-1/kinesis/aws4_request/, SignedHeaders=host, Signature=s"),
            ("x-amz-date", "20240102T030405Z"),
        ]);
        assert_eq!(
            parse_auth(&h, None, Version::HTTP_11, "kinesis")
                .unwrap()
                .region,
            "us-east-1"
        );
    }

    #[test]
    fn a_signed_authority_stands_for_host_over_http2_only() {
        // What the JavaScript SDK v3 sends over HTTP/2: `:authority` signed, no `host`.
        let h2_auth = "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/kinesis/aws4_request, \
                       SignedHeaders=:authority;content-type;x-amz-date;x-amz-target, Signature=ab";
        let h = headers(&[
            ("authorization", h2_auth),
            ("x-amz-date", "20240102T030405Z"),
        ]);
        let info = parse_auth(&h, None, Version::HTTP_2, "kinesis").unwrap();
        assert_eq!(
            info.signed_headers.first().map(String::as_str),
            Some(":authority")
        );
        assert_eq!(info.region, "us-east-1");
        // Over HTTP/1.1 there is no `:authority`: `host` must be signed.
        let e = parse_auth(&h, None, Version::HTTP_11, "kinesis").unwrap_err();
        assert_eq!(e.error_type(), "InvalidSignatureException");
        assert_eq!(
            e.message(),
            "'Host' must be a 'SignedHeader' in the AWS Authorization."
        );
        // `host` signed is as good over HTTP/2 (clients that send a host header there).
        let h = headers(&[("authorization", GOOD), ("x-amz-date", "20240102T030405Z")]);
        assert!(parse_auth(&h, None, Version::HTTP_2, "kinesis").is_ok());
        // Neither signed over HTTP/2: AWS's HTTP/2 wording names both.
        let neither = "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/kinesis/aws4_request, \
                       SignedHeaders=content-type;x-amz-date, Signature=ab";
        let h = headers(&[
            ("authorization", neither),
            ("x-amz-date", "20240102T030405Z"),
        ]);
        let e = parse_auth(&h, None, Version::HTTP_2, "kinesis").unwrap_err();
        assert_eq!(
            e.message(),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%2fc+d%zz%"), "a/b/c d%zz%");
        assert_eq!(
            parse_query("a=1&&b&c=%41"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "A".into())
            ]
        );
    }
}
