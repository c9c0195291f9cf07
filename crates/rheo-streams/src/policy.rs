//! Resource-based policies (Put/Get/DeleteResourcePolicy): stored with the stream's metadata,
//! so they are as durable as the stream and go with it when it is deleted. Only storage and
//! validation live here; evaluating a policy against a request is the security layer's job.

use crate::error::Result;
use crate::limits::RESOURCE_POLICY_BYTES_MAX;
use crate::messages;
use crate::service::Streams;
use crate::types::{Ctx, StreamTarget};

/// What GetResourcePolicy answers for a resource with no policy: AWS returns an empty JSON
/// object rather than an error.
pub const NO_POLICY: &str = "{}";

/// Whether a Kinesis ARN names a consumer (`.../stream/<s>/consumer/<c>:<epoch>`) rather
/// than the stream itself.
fn is_consumer_arn(arn: &str) -> bool {
    arn.split_once(":stream/")
        .is_some_and(|(_, rest)| rest.contains("/consumer/"))
}

/// Checks a policy document before it is stored: within AWS's size limit and a JSON object.
fn check_policy(arn: &str, policy: &str) -> Result<()> {
    if policy.len() > RESOURCE_POLICY_BYTES_MAX {
        return Err(messages::policy_too_large(
            arn,
            policy.len(),
            RESOURCE_POLICY_BYTES_MAX,
        ));
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(messages::policy_not_json(arn)),
    }
}

impl Streams {
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
        check_policy(arn, policy)?;
        let mut state = handle.write().await;
        let slot = policy_slot(&mut state.meta, consumer)
            .ok_or_else(|| messages::consumer_not_found(arn, ctx.account()))?;
        *slot = Some(policy.to_string());
        self.persist(&state.meta)
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
        assert!(check_policy(arn, r#"{"Version":"2012-10-17","Statement":[]}"#).is_ok());
        assert!(check_policy(arn, "{}").is_ok());
        for bad in ["", "not json", "[]", "\"x\"", "{", "1"] {
            assert!(
                matches!(
                    check_policy(arn, bad),
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
        assert!(check_policy(arn, &pad(RESOURCE_POLICY_BYTES_MAX)).is_ok());
        let Err(KinesisError::InvalidArgument(msg)) =
            check_policy(arn, &pad(RESOURCE_POLICY_BYTES_MAX + 1))
        else {
            panic!("an oversized policy must be refused");
        };
        assert!(msg.contains("20481") && msg.contains("20480"), "{msg}");
    }
}
