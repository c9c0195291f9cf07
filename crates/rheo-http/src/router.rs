//! Which service binding answers a request: by `X-Amz-Target` prefix (the JSON protocols), by
//! content type (awsQuery's form posts), or by path prefix (REST-style services), in that
//! order, else the fallback (which answers what AWS answers an unknown target).

use http::HeaderMap;

/// A route table to binding ids `B` (the binary's own enum of bindings, so dispatch is a
/// `match`, not a virtual call).
#[derive(Clone, Debug)]
pub struct Router<B> {
    by_target_prefix: Vec<(&'static str, B)>,
    by_content_type: Vec<(&'static str, B)>,
    by_path_prefix: Vec<(&'static str, B)>,
    fallback: B,
}

impl<B: Copy> Router<B> {
    pub fn new(fallback: B) -> Router<B> {
        Router {
            by_target_prefix: Vec::new(),
            by_content_type: Vec::new(),
            by_path_prefix: Vec::new(),
            fallback,
        }
    }

    /// `X-Amz-Target: <prefix>.<Operation>` goes to `binding`.
    pub fn target_prefix(mut self, prefix: &'static str, binding: B) -> Self {
        self.by_target_prefix.push((prefix, binding));
        self
    }

    /// A request of this media type (parameters ignored) without a known target goes to
    /// `binding`.
    pub fn content_type(mut self, media_type: &'static str, binding: B) -> Self {
        self.by_content_type.push((media_type, binding));
        self
    }

    pub fn path_prefix(mut self, prefix: &'static str, binding: B) -> Self {
        self.by_path_prefix.push((prefix, binding));
        self
    }

    pub fn route(&self, headers: &HeaderMap, path: &str) -> B {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some((prefix, _)) = header("x-amz-target").and_then(|t| t.trim().split_once('.')) {
            if let Some((_, b)) = self.by_target_prefix.iter().find(|(p, _)| *p == prefix) {
                return *b;
            }
        }
        if let Some(media) = header("content-type").map(|c| c.split(';').next().unwrap_or(c).trim())
        {
            if let Some((_, b)) = self
                .by_content_type
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(media))
            {
                return *b;
            }
        }
        self.by_path_prefix
            .iter()
            .find(|(p, _)| path.starts_with(p))
            .map_or(self.fallback, |(_, b)| *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum B {
        Kinesis,
        Dynamo,
        CloudWatch,
        Rest,
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn routes_by_target_then_content_type_then_path() {
        let r = Router::new(B::Kinesis)
            .target_prefix("Kinesis_20131202", B::Kinesis)
            .target_prefix("DynamoDB_20120810", B::Dynamo)
            .content_type("application/x-www-form-urlencoded", B::CloudWatch)
            .path_prefix("/v1/", B::Rest);
        let json = ("content-type", "application/x-amz-json-1.0");
        assert_eq!(
            r.route(
                &headers(&[("x-amz-target", "DynamoDB_20120810.GetItem"), json]),
                "/"
            ),
            B::Dynamo
        );
        assert_eq!(
            r.route(
                &headers(&[("x-amz-target", "Kinesis_20131202.PutRecords")]),
                "/"
            ),
            B::Kinesis
        );
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        assert_eq!(r.route(&headers(&[form]), "/"), B::CloudWatch);
        assert_eq!(r.route(&headers(&[]), "/v1/things"), B::Rest);
        // Unknown target prefix and nothing else: the fallback answers (UnknownOperation).
        assert_eq!(
            r.route(&headers(&[("x-amz-target", "Nope_1.X"), json]), "/"),
            B::Kinesis
        );
    }
}
