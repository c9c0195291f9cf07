//! What a policy is evaluated against: who asks, for what, on what, and the request's
//! condition keys.

use std::net::IpAddr;

/// The request as the evaluator sees it. Borrowed throughout, so evaluating costs no
/// allocation.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The caller (`aws:PrincipalArn`).
    pub principal_arn: &'a str,
    /// The caller's account (`aws:PrincipalAccount`).
    pub principal_account: &'a str,
    /// `kinesis:PutRecord`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: Option<bool>,
    /// Milliseconds since the epoch (`aws:CurrentTime`).
    pub current_time_ms: Option<i64>,
    /// Further keys (or overrides of the ones above) with their values; names compared
    /// case-insensitively.
    pub extra: &'a [(String, Vec<String>)],
}

/// A request value of a condition key.
#[derive(Clone, Debug)]
pub enum CtxValue<'a> {
    Str(&'a str),
    Bool(bool),
    Ip(IpAddr),
    Time(i64),
    /// A multi-valued key.
    List(&'a [String]),
}

impl<'a> Facts<'a> {
    /// The value of condition key `key` (any case), if the request has it.
    pub fn lookup(&self, key: &str) -> Option<CtxValue<'a>> {
        if let Some((_, values)) = self.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Some(match values.as_slice() {
                [one] => CtxValue::Str(one),
                many => CtxValue::List(many),
            });
        }
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("aws:PrincipalArn") {
            Some(CtxValue::Str(self.principal_arn))
        } else if is("aws:PrincipalAccount") {
            Some(CtxValue::Str(self.principal_account))
        } else if is("aws:SourceIp") {
            self.source_ip.map(CtxValue::Ip)
        } else if is("aws:SecureTransport") {
            self.secure_transport.map(CtxValue::Bool)
        } else if is("aws:CurrentTime") || is("aws:EpochTime") {
            self.current_time_ms.map(CtxValue::Time)
        } else if is("kinesis:ConsumerName") {
            consumer_name(self.resource).map(CtxValue::Str)
        } else {
            None
        }
    }
}

/// The consumer's name in a consumer ARN
/// (`arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<created>`).
pub fn consumer_name(arn: &str) -> Option<&str> {
    let parts = crate::pattern::arn_parts(arn)?;
    let rest = parts[5].strip_prefix("stream/")?;
    let (_, consumer) = rest.split_once("/consumer/")?;
    Some(consumer.rsplit_once(':').map_or(consumer, |(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_name_comes_from_a_consumer_arn() {
        assert_eq!(
            consumer_name(
                "arn:aws:kinesis:us-east-1:111111111111:stream/s/consumer/app-1:1700000000"
            ),
            Some("app-1")
        );
        assert_eq!(
            consumer_name("arn:aws:kinesis:us-east-1:111111111111:stream/s"),
            None
        );
        assert_eq!(consumer_name("*"), None);
    }
}
