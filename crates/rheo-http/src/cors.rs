//! Cross-origin requests, so that an AWS SDK running in a browser page can call Rheo.
//!
//! AWS answers every CORS preflight of its JSON services itself, before authentication (a
//! browser never signs a preflight), and marks every answer to a request with an `Origin` as
//! readable from any origin, exposing the headers an SDK reads. Rheo does the same for every
//! service it serves, which is why this sits in the HTTP seam and not in a binding.

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN,
};
use http::{HeaderMap, Method, Response, StatusCode};

use crate::{ReplyBody, RequestId};

/// Response headers a page's script may read: the request id and extended id the SDKs put in
/// `$metadata`, and the error type, error message and date some SDKs fall back on.
pub const EXPOSE_HEADERS: &str =
    "x-amzn-RequestId, x-amz-id-2, x-amzn-ErrorType, x-amzn-ErrorMessage, Date";

/// How long a browser may cache a preflight answer, in seconds (two days; browsers cap it
/// lower themselves).
pub const MAX_AGE_SECONDS: u32 = 172_800;

/// Whether a request is a CORS preflight: `OPTIONS` with an `Origin` and the method the page
/// wants to send. A bare `OPTIONS` is an ordinary request and gets the service's answer.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: 200, empty, allowing any origin, and allowing exactly the method
/// and headers asked for (what the page sends is authenticated by its signature, not by CORS).
pub fn preflight(headers: &HeaderMap) -> Response<ReplyBody> {
    let mut resp = Response::new(ReplyBody::empty());
    *resp.status_mut() = StatusCode::OK;
    let out = resp.headers_mut();
    out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Some(m) = headers.get(ACCESS_CONTROL_REQUEST_METHOD) {
        out.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
    }
    if let Some(h) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
    }
    out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECONDS));
    out.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    out.insert(CONTENT_LENGTH, HeaderValue::from(0));
    // Every AWS answer carries a request id, a preflight's too.
    if let Ok(id) = HeaderValue::from_bytes(RequestId::random().as_bytes()) {
        out.insert("x-amzn-requestid", id);
    }
    resp
}

/// Marks an answer to a cross-origin request (one with an `Origin`) as readable by the page:
/// success or error alike, since an SDK must read the error's type to report it.
pub fn allow(response_headers: &mut HeaderMap) {
    response_headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response_headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_preflight_needs_options_an_origin_and_a_requested_method() {
        let full = headers(&[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
        ]);
        assert!(is_preflight(&Method::OPTIONS, &full));
        assert!(!is_preflight(&Method::POST, &full));
        let no_method = headers(&[("origin", "http://localhost:3000")]);
        assert!(!is_preflight(&Method::OPTIONS, &no_method));
        let no_origin = headers(&[("access-control-request-method", "POST")]);
        assert!(!is_preflight(&Method::OPTIONS, &no_origin));
    }

    #[test]
    fn the_preflight_answer_allows_what_was_asked() {
        let asked = headers(&[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent",
            ),
        ]);
        let resp = preflight(&asked);
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get("access-control-allow-origin"), Some("*"));
        assert_eq!(get("access-control-allow-methods"), Some("POST"));
        assert_eq!(
            get("access-control-allow-headers"),
            Some("authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent")
        );
        assert_eq!(get("access-control-max-age"), Some("172800"));
        assert_eq!(get("content-length"), Some("0"));
        assert_eq!(get("x-amzn-requestid").map(str::len), Some(36));
        // Nothing asked, nothing allowed beyond the method.
        let resp = preflight(&headers(&[
            ("origin", "null"),
            ("access-control-request-method", "GET"),
        ]));
        assert!(resp.headers().get("access-control-allow-headers").is_none());
    }

    #[test]
    fn allow_exposes_the_request_id_headers() {
        let mut h = HeaderMap::new();
        allow(&mut h);
        assert_eq!(h["access-control-allow-origin"], "*");
        let exposed = h["access-control-expose-headers"].to_str().unwrap();
        for name in ["x-amzn-RequestId", "x-amz-id-2"] {
            assert!(exposed.split(", ").any(|e| e == name), "{exposed}");
        }
    }
}
