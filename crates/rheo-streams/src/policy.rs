//! Resource-based policies (Put/Get/DeleteResourcePolicy): stored with the stream's metadata,
//! so they are as durable as the stream and go with it when it is deleted. Only storage and
//! the document's size and shape live here; the policy language is checked by a
//! [`PolicyCheck`] the server installs (rheo-iam's parser: this crate knows no IAM), and
//! evaluating a policy against a request is the security layer's job, which reads the current
//! policies synchronously through [`Streams::resource_policy_of`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Result;
use crate::limits::RESOURCE_POLICY_BYTES_MAX;
use crate::messages;
use crate::service::Streams;
use crate::types::{Ctx, StreamTarget};

/// What GetResourcePolicy answers for a resource with no policy: AWS returns an empty JSON
/// object rather than an error.
pub const NO_POLICY: &str = "{}";

/// Checks a policy document's language before it is stored: `Err` carries the reason, which
/// the refusal (InvalidArgumentException) names.
pub type PolicyCheck = Arc<dyn Fn(&str) -> std::result::Result<(), String> + Send + Sync>;

/// The current policy text of every stream and consumer that has one, by ARN: what the
/// authorizer reads on every request, without waiting on a stream's lock. Kept in step with
/// the metadata by Put/DeleteResourcePolicy, DeleteStream and DeregisterStreamConsumer.
#[derive(Default)]
pub(crate) struct PolicyIndex {
    by_arn: parking_lot::RwLock<HashMap<String, Arc<str>>>,
}

impl PolicyIndex {
    pub(crate) fn set(&self, arn: String, policy: Option<&str>) {
        let mut map = self.by_arn.write();
        match policy {
            Some(p) => {
                map.insert(arn, Arc::from(p));
            }
            None => {
                map.remove(&arn);
            }
        }
    }

    /// Forgets the stream's policy and its consumers'.
    pub(crate) fn remove_stream(&self, stream_arn: &str) {
        self.by_arn.write().retain(|arn, _| {
            arn != stream_arn
                && !arn
                    .strip_prefix(stream_arn)
                    .is_some_and(|rest| rest.starts_with("/consumer/"))
        });
    }

    pub(crate) fn get(&self, arn: &str) -> Option<Arc<str>> {
        self.by_arn.read().get(arn).cloned()
    }

    /// The policies of one stream's metadata, at open.
    pub(crate) fn load(&self, stream_arn: &str, meta: &crate::meta::StreamMeta) {
        if let Some(p) = &meta.policy {
            self.set(stream_arn.to_string(), Some(p));
        }
        for c in &meta.consumers {
            if let Some(p) = &c.policy {
                self.set(consumer_arn(stream_arn, &c.name, c.created_secs()), Some(p));
            }
        }
    }
}

/// A consumer's ARN (`<stream ARN>/consumer/<name>:<creation second>`).
pub(crate) fn consumer_arn(stream_arn: &str, name: &str, created_secs: i64) -> String {
    format!("{stream_arn}/consumer/{name}:{created_secs}")
}

/// Whether a Kinesis ARN names a consumer (`.../stream/<s>/consumer/<c>:<epoch>`) rather
/// than the stream itself.
fn is_consumer_arn(arn: &str) -> bool {
    arn.split_once(":stream/")
        .is_some_and(|(_, rest)| rest.contains("/consumer/"))
}

/// Checks a policy document before it is stored: within AWS's size limit, a JSON object, and
/// valid in the policy language when a [`PolicyCheck`] is installed.
fn check_policy(arn: &str, policy: &str, language: Option<&PolicyCheck>) -> Result<()> {
    if policy.len() > RESOURCE_POLICY_BYTES_MAX {
        return Err(messages::policy_too_large(
            arn,
            policy.len(),
            RESOURCE_POLICY_BYTES_MAX,
        ));
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => {}
        _ => return Err(messages::policy_not_json(arn)),
    }
    match language.map(|check| check(policy)) {
        Some(Err(reason)) => Err(messages::policy_invalid(arn, &reason)),
        _ => Ok(()),
    }
}

impl Streams {
    /// Installs the policy-language check PutResourcePolicy applies (once; a second call is
    /// ignored and returns false).
    pub fn set_policy_check(&self, check: PolicyCheck) -> bool {
        self.inner.policy_check.set(check).is_ok()
    }

    /// The current resource policy of the stream or consumer `arn` (as the ARN Kinesis gives
    /// it), synchronously and without taking the stream's lock: for the authorizer.
    pub fn resource_policy_of(&self, arn: &str) -> Option<Arc<str>> {
        self.inner.policies.get(arn)
    }

    /// The canonical ARN of the stream or consumer a policy is attached to.
    fn policy_arn(
        &self,
        ctx: &Ctx,
        meta: &crate::meta::StreamMeta,
        consumer: Option<(&str, i64)>,
    ) -> String {
        let stream = self.stream_arn(&meta.region, ctx.account(), &meta.name);
        match consumer {
            None => stream,
            Some((name, secs)) => consumer_arn(&stream, name, secs),
        }
    }

    /// The stream `arn` names (a consumer ARN's stream), and for a consumer ARN the consumer's
    /// name and creation second, after checking that the stream exists.
    async fn policy_target<'a>(
        &self,
        ctx: &Ctx,
        arn: &'a str,
    ) -> Result<(crate::service::Handle, Option<(&'a str, i64)>)> {
        let consumer = if is_consumer_arn(arn) {
            let (stream_arn, name, secs) = crate::consumers::parse_consumer_arn(arn)
                .ok_or_else(|| messages::consumer_not_found(arn, ctx.account()))?;
            Some((stream_arn, (name, secs)))
        } else {
            None
        };
        let stream_arn = consumer.map_or(arn, |(s, _)| s);
        let (_, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        Ok((handle, consumer.map(|(_, c)| c)))
    }

    /// Attaches (or replaces) the resource policy of the stream or consumer `arn`.
    pub async fn put_resource_policy(&self, ctx: &Ctx, arn: &str, policy: &str) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (handle, consumer) = self.policy_target(ctx, arn).await?;
        check_policy(arn, policy, self.inner.policy_check.get())?;
        let mut state = handle.write().await;
        let before = state.meta.clone();
        let slot = policy_slot(&mut state.meta, consumer)
            .ok_or_else(|| messages::consumer_not_found(arn, ctx.account()))?;
        *slot = Some(policy.to_string());
        if let Err(e) = self.persist(&state.meta) {
            state.meta = before;
            return Err(e);
        }
        let key = self.policy_arn(ctx, &state.meta, consumer);
        self.inner.policies.set(key, Some(policy));
        Ok(())
    }

    /// The resource policy of `arn`, or [`NO_POLICY`] when none is attached.
    pub async fn get_resource_policy(&self, ctx: &Ctx, arn: &str) -> Result<String> {
        let (handle, consumer) = self.policy_target(ctx, arn).await?;
        let mut state = handle.write().await;
        let slot = policy_slot(&mut state.meta, consumer)
            .ok_or_else(|| messages::consumer_not_found(arn, ctx.account()))?;
        Ok(slot.clone().unwrap_or_else(|| NO_POLICY.to_string()))
    }

    /// Removes the resource policy of `arn`; removing a policy that is not there succeeds.
    pub async fn delete_resource_policy(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (handle, consumer) = self.policy_target(ctx, arn).await?;
        let mut state = handle.write().await;
        let slot = policy_slot(&mut state.meta, consumer)
            .ok_or_else(|| messages::consumer_not_found(arn, ctx.account()))?;
        if slot.take().is_some() {
            self.persist(&state.meta)?;
        }
        let key = self.policy_arn(ctx, &state.meta, consumer);
        self.inner.policies.set(key, None);
        Ok(())
    }
}

/// Where the policy of the stream, or of its consumer (name, creation second), is kept; `None`
/// for a consumer that is not registered.
fn policy_slot<'m>(
    meta: &'m mut crate::meta::StreamMeta,
    consumer: Option<(&str, i64)>,
) -> Option<&'m mut Option<String>> {
    match consumer {
        None => Some(&mut meta.policy),
        Some((name, secs)) => meta
            .consumers
            .iter_mut()
            .find(|c| c.name == name && c.created_secs() == secs)
            .map(|c| &mut c.policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KinesisError;

    #[test]
    fn consumer_arns_are_told_from_stream_arns() {
        assert!(is_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1700000000"
        ));
        assert!(!is_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s"
        ));
        assert!(!is_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/consumer"
        ));
    }

    #[test]
    fn policies_must_be_json_objects_within_the_size_limit() {
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
        assert!(check_policy(arn, r#"{"Version":"2012-10-17","Statement":[]}"#, None).is_ok());
        assert!(check_policy(arn, "{}", None).is_ok());
        for bad in ["", "not json", "[]", "\"x\"", "{", "1"] {
            assert!(
                matches!(
                    check_policy(arn, bad, None),
                    Err(KinesisError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
        let pad = |n: usize| format!(r#"{{"p":"{}"}}"#, "x".repeat(n - 8));
        assert_eq!(
            pad(RESOURCE_POLICY_BYTES_MAX).len(),
            RESOURCE_POLICY_BYTES_MAX
        );
        assert!(check_policy(arn, &pad(RESOURCE_POLICY_BYTES_MAX), None).is_ok());
        let Err(KinesisError::InvalidArgument(msg)) =
            check_policy(arn, &pad(RESOURCE_POLICY_BYTES_MAX + 1), None)
        else {
            panic!("an oversized policy must be refused");
        };
        assert!(msg.contains("20481") && msg.contains("20480"), "{msg}");
    }

    #[test]
    fn an_installed_language_check_refuses_with_its_reason() {
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
        let check: PolicyCheck = Arc::new(|p: &str| {
            if p.contains("Statement") {
                Ok(())
            } else {
                Err("Missing required field Statement".into())
            }
        });
        assert!(check_policy(arn, r#"{"Statement":[]}"#, Some(&check)).is_ok());
        let Err(KinesisError::InvalidArgument(msg)) = check_policy(arn, "{}", Some(&check)) else {
            panic!("the check must refuse");
        };
        assert!(
            msg.contains(arn) && msg.ends_with("Missing required field Statement"),
            "{msg}"
        );
    }

    #[test]
    fn the_index_forgets_a_stream_with_its_consumers() {
        let index = PolicyIndex::default();
        let s = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
        index.set(s.into(), Some("{}"));
        index.set(consumer_arn(s, "c", 1), Some("{\"a\":1}"));
        index.set(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s2".into(),
            Some("{}"),
        );
        assert_eq!(
            index.get(&consumer_arn(s, "c", 1)).as_deref(),
            Some("{\"a\":1}")
        );
        index.remove_stream(s);
        assert!(index.get(s).is_none() && index.get(&consumer_arn(s, "c", 1)).is_none());
        assert!(index
            .get("arn:aws:kinesis:us-east-1:000000000000:stream/s2")
            .is_some());
        index.set(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s2".into(),
            None,
        );
        assert!(index
            .get("arn:aws:kinesis:us-east-1:000000000000:stream/s2")
            .is_none());
    }
}
