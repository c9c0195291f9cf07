//! Enhanced fan-out consumers: register, describe, list, deregister, and their tags.
//!
//! A consumer is part of its stream's metadata document (`StreamMeta::consumers`), so it is
//! durable exactly as the stream is, goes with the stream when the stream is deleted, and needs
//! no catalog entry of its own. Its status moves CREATING -> ACTIVE and DELETING -> gone when
//! `Config::consumer_status_ms` has passed, completed by `Streams::settle` like a stream's own
//! transitions.

use crate::error::{KinesisError, Result};
use crate::limits::{
    CONSUMERS_CREATING_MAX, CONSUMERS_PER_STREAM_MAX, LIST_CONSUMERS_RESULTS_DEFAULT,
    LIST_CONSUMERS_RESULTS_MAX, NEXT_TOKEN_AGE_MS_MAX, TAGS_PER_STREAM_MAX,
};
use crate::messages;
use crate::meta::{ConsumerMeta, ConsumerStatus, StreamMeta, StreamStatus};
use crate::service::{parse_stream_arn, Streams};
use crate::types::*;

/// Splits a consumer ARN, `<stream ARN>/consumer/<name>:<creation epoch seconds>`, into the
/// stream's ARN, the consumer's name and its creation second.
pub(crate) fn parse_consumer_arn(arn: &str) -> Option<(&str, &str, i64)> {
    let (stream_arn, tail) = arn.split_once("/consumer/")?;
    let (name, secs) = tail.rsplit_once(':')?;
    if name.is_empty() || name.contains('/') || parse_stream_arn(stream_arn).is_none() {
        return None;
    }
    Some((stream_arn, name, secs.parse().ok()?))
}

fn consumer_arn(stream_arn: &str, c: &ConsumerMeta) -> String {
    format!("{stream_arn}/consumer/{}:{}", c.name, c.created_secs())
}

fn describe(stream_arn: &str, c: &ConsumerMeta) -> ConsumerInfo {
    ConsumerInfo {
        name: c.name.clone(),
        arn: consumer_arn(stream_arn, c),
        status: c.status,
        created_ms: c.created_ms,
        stream_arn: stream_arn.to_string(),
    }
}

/// Whether a consumer of `m` has a status change due at `now`.
pub(crate) fn consumer_transition_due(m: &StreamMeta, now: i64) -> bool {
    m.consumers
        .iter()
        .any(|c| c.status != ConsumerStatus::Active && c.due_ms <= now)
}

/// Completes the consumers' due status changes; returns whether anything changed.
pub(crate) fn settle_consumers(m: &mut StreamMeta, now: i64) -> bool {
    let before = m.consumers.len();
    let mut changed = false;
    m.consumers
        .retain(|c| !(c.status == ConsumerStatus::Deleting && c.due_ms <= now));
    for c in &mut m.consumers {
        if c.status == ConsumerStatus::Creating && c.due_ms <= now {
            c.status = ConsumerStatus::Active;
            changed = true;
        }
    }
    changed || m.consumers.len() != before
}

impl Streams {
    pub async fn register_stream_consumer(
        &self,
        ctx: &Ctx,
        req: RegisterConsumer,
    ) -> Result<ConsumerInfo> {
        // Shared across accounts when the stream's owner granted it (`service::reach`).
        let acting = crate::service::reach(ctx, Some(&req.stream_arn));
        let ctx = &*acting;
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::RegisterStreamConsumer,
            None,
        )?;
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self
            .lookup(ctx, &StreamTarget::arn(&req.stream_arn))
            .await?;
        let mut state = handle.write().await;
        let account = ctx.account();
        if matches!(
            state.meta.status,
            StreamStatus::Creating | StreamStatus::Deleting
        ) {
            return Err(messages::stream_not_active(
                &name,
                account,
                state.meta.status.as_str(),
            ));
        }
        let consumers = &state.meta.consumers;
        if consumers.iter().any(|c| c.name == req.consumer_name) {
            return Err(messages::consumer_exists(
                &req.consumer_name,
                &name,
                account,
            ));
        }
        if consumers.len() >= CONSUMERS_PER_STREAM_MAX {
            return Err(messages::consumer_limit(&name, account));
        }
        let creating = consumers
            .iter()
            .filter(|c| c.status == ConsumerStatus::Creating)
            .count();
        if creating >= CONSUMERS_CREATING_MAX {
            return Err(messages::consumers_creating_limit(&name, account));
        }
        if req.tags.len() > TAGS_PER_STREAM_MAX {
            return Err(too_many_consumer_tags(&req.consumer_name, account));
        }
        let now = self.now_ms();
        let consumer = ConsumerMeta {
            name: req.consumer_name,
            created_ms: now,
            status: ConsumerStatus::Creating,
            due_ms: now + self.inner.config.consumer_status_ms,
            tags: req.tags,
            policy: None,
        };
        let stream_arn = self.stream_arn(&state.meta.region, account, &name);
        let info = describe(&stream_arn, &consumer);
        state.meta.consumers.push(consumer);
        if let Err(e) = self.persist(&state.meta) {
            state.meta.consumers.pop();
            return Err(e);
        }
        tracing::info!(stream = %name, consumer = %info.name, "consumer registered");
        Ok(info)
    }

    pub async fn describe_stream_consumer(
        &self,
        ctx: &Ctx,
        target: &ConsumerTarget,
    ) -> Result<ConsumerInfo> {
        // Shared across accounts when the owner granted it; AWS asks for the consumer's ARN
        // then, and its stream's ARN names the same account.
        let acting = crate::service::reach(
            ctx,
            target
                .consumer_arn
                .as_deref()
                .or(target.stream_arn.as_deref()),
        );
        let ctx = &*acting;
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::DescribeStreamConsumer,
            None,
        )?;
        let (stream_arn, consumer_name, secs) = resolve(target)?;
        let (name, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        let state = handle.read().await;
        let c = find(&state.meta, consumer_name, secs).ok_or_else(|| {
            messages::consumer_name_not_found(consumer_name, &name, ctx.account())
        })?;
        let arn = self.stream_arn(&state.meta.region, ctx.account(), &name);
        Ok(describe(&arn, c))
    }

    /// DELETING now, gone once `Config::consumer_status_ms` has passed. Deregistering a
    /// consumer that is already DELETING changes nothing.
    pub async fn deregister_stream_consumer(
        &self,
        ctx: &Ctx,
        target: &ConsumerTarget,
    ) -> Result<()> {
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::DeregisterStreamConsumer,
            None,
        )?;
        let _admin = self.inner.admin.lock().await;
        let (stream_arn, consumer_name, secs) = resolve(target)?;
        let (name, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        let mut state = handle.write().await;
        let due = self.now_ms() + self.inner.config.consumer_status_ms;
        let before = state.meta.clone();
        let c = find_mut(&mut state.meta, consumer_name, secs).ok_or_else(|| {
            messages::consumer_name_not_found(consumer_name, &name, ctx.account())
        })?;
        if c.status == ConsumerStatus::Deleting {
            return Ok(());
        }
        let created = c.created_secs();
        c.status = ConsumerStatus::Deleting;
        c.due_ms = due;
        if let Err(e) = self.persist(&state.meta) {
            state.meta = before;
            return Err(e);
        }
        let stream_arn = self.stream_arn(&state.meta.region, ctx.account(), &name);
        self.inner.policies.set(
            crate::policy::consumer_arn(&stream_arn, consumer_name, created),
            None,
        );
        tracing::info!(stream = %name, consumer = %consumer_name, "consumer deregistering");
        Ok(())
    }

    pub async fn list_stream_consumers(
        &self,
        ctx: &Ctx,
        req: ListConsumers,
    ) -> Result<ListConsumersOutput> {
        self.control_rate(ctx, crate::throttle::ControlOp::ListStreamConsumers, None)?;
        if req.next_token.is_some() && req.stream_creation_ms.is_some() {
            return Err(KinesisError::InvalidArgument(
                "NextToken and StreamCreationTimestamp cannot be provided together.".into(),
            ));
        }
        let (name, handle) = self
            .lookup(ctx, &StreamTarget::arn(&req.stream_arn))
            .await?;
        let state = handle.read().await;
        let m = &state.meta;
        let now = self.now_ms();
        let after = match &req.next_token {
            Some(token) => {
                let t = ConsumersToken::decode(token)?;
                if now - t.issued_ms > NEXT_TOKEN_AGE_MS_MAX {
                    return Err(KinesisError::ExpiredNextToken(format!(
                        "The timestamp of the NextToken ({}) is too old.",
                        t.issued_ms
                    )));
                }
                if t.stream_created_ms != m.created_ms || t.stream != name {
                    return Err(KinesisError::InvalidArgument(format!(
                        "Invalid NextToken: {token}"
                    )));
                }
                Some(t.after)
            }
            None => None,
        };
        if let Some(created) = req.stream_creation_ms {
            // Another stream of the same name, deleted since: its consumers are gone.
            if created != m.created_ms {
                return Err(messages::stream_not_found(&name, ctx.account()));
            }
        }
        let limit = req
            .max_results
            .unwrap_or(LIST_CONSUMERS_RESULTS_DEFAULT)
            .min(LIST_CONSUMERS_RESULTS_MAX) as usize;
        let mut sorted: Vec<&ConsumerMeta> = m.consumers.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let rest: Vec<&ConsumerMeta> = sorted
            .into_iter()
            .filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a))
            .collect();
        let stream_arn = self.stream_arn(&m.region, ctx.account(), &name);
        let page: Vec<ConsumerInfo> = rest
            .iter()
            .take(limit)
            .map(|c| describe(&stream_arn, c))
            .collect();
        let next_token = match (rest.len() > limit, page.last()) {
            (true, Some(last)) => Some(
                ConsumersToken {
                    stream: name.clone(),
                    stream_created_ms: m.created_ms,
                    after: last.name.clone(),
                    issued_ms: now,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ListConsumersOutput {
            consumers: page,
            next_token,
        })
    }

    /// The tags of the consumer `arn` names.
    pub async fn list_consumer_tags(&self, ctx: &Ctx, arn: &str) -> Result<TagList> {
        let target = ConsumerTarget::arn(arn);
        let (stream_arn, consumer_name, secs) = resolve(&target)?;
        let (name, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        let state = handle.read().await;
        let c = find(&state.meta, consumer_name, secs).ok_or_else(|| {
            messages::consumer_name_not_found(consumer_name, &name, ctx.account())
        })?;
        Ok(TagList {
            tags: c.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            has_more: false,
        })
    }

    /// Adds (`add`) or removes (`remove`) tags of the consumer `arn` names.
    pub async fn change_consumer_tags(
        &self,
        ctx: &Ctx,
        arn: &str,
        add: Vec<(String, String)>,
        remove: Vec<String>,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let target = ConsumerTarget::arn(arn);
        let (stream_arn, consumer_name, secs) = resolve(&target)?;
        let (name, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        let mut state = handle.write().await;
        let before = state.meta.clone();
        let c = find_mut(&mut state.meta, consumer_name, secs).ok_or_else(|| {
            messages::consumer_name_not_found(consumer_name, &name, ctx.account())
        })?;
        let mut tags = c.tags.clone();
        tags.extend(add);
        for k in &remove {
            tags.remove(k);
        }
        if tags.len() > TAGS_PER_STREAM_MAX {
            return Err(too_many_consumer_tags(consumer_name, ctx.account()));
        }
        c.tags = tags;
        if let Err(e) = self.persist(&state.meta) {
            state.meta = before;
            return Err(e);
        }
        Ok(())
    }
}

/// (stream ARN, consumer name, creation second if the ARN gave one) of a consumer target.
fn resolve(target: &ConsumerTarget) -> Result<(&str, &str, Option<i64>)> {
    match (
        &target.consumer_arn,
        &target.stream_arn,
        &target.consumer_name,
    ) {
        (Some(arn), _, _) => {
            let (stream_arn, name, secs) = parse_consumer_arn(arn).ok_or_else(|| {
                KinesisError::InvalidArgument(format!("Invalid ConsumerARN: {arn}"))
            })?;
            Ok((stream_arn, name, Some(secs)))
        }
        (None, Some(stream_arn), Some(name)) => Ok((stream_arn, name, None)),
        _ => Err(KinesisError::InvalidArgument(
            "Either ConsumerARN or both ConsumerName and StreamARN should be provided.".into(),
        )),
    }
}

/// The consumer of that name; with an ARN's creation second, only the registration it names
/// (an ARN of an earlier consumer of the same name names nothing now).
fn find<'m>(m: &'m StreamMeta, name: &str, secs: Option<i64>) -> Option<&'m ConsumerMeta> {
    m.consumers
        .iter()
        .find(|c| c.name == name && secs.is_none_or(|s| s == c.created_secs()))
}

fn find_mut<'m>(
    m: &'m mut StreamMeta,
    name: &str,
    secs: Option<i64>,
) -> Option<&'m mut ConsumerMeta> {
    m.consumers
        .iter_mut()
        .find(|c| c.name == name && secs.is_none_or(|s| s == c.created_secs()))
}

fn too_many_consumer_tags(name: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Failed to add tags to consumer {name} under account {account} because a given \
         consumer cannot have more than {TAGS_PER_STREAM_MAX} tags associated with it."
    ))
}

/// What a ListStreamConsumers NextToken carries: the stream (name and creation time, so a
/// token outlives no recreation), where to resume, and when it was issued (they expire).
struct ConsumersToken {
    stream: String,
    stream_created_ms: i64,
    after: String,
    issued_ms: i64,
}

impl ConsumersToken {
    fn encode(&self) -> String {
        let body = format!(
            "c1|{}|{}|{}|{}",
            self.stream_created_ms,
            self.issued_ms,
            self.stream.len(),
            self.stream
        );
        crate::token::seal(&format!("{body}{}", self.after))
    }

    fn decode(token: &str) -> Result<Self> {
        let bad = || crate::token::invalid(token);
        let body = crate::token::open(token)?;
        let mut parts = body.splitn(5, '|');
        if parts.next() != Some("c1") {
            return Err(bad());
        }
        let mut num =
            || -> Result<i64> { parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad) };
        let stream_created_ms = num()?;
        let issued_ms = num()?;
        let stream_len = usize::try_from(num()?).map_err(|_| bad())?;
        let rest = parts.next().ok_or_else(bad)?;
        if stream_len > rest.len() || !rest.is_char_boundary(stream_len) {
            return Err(bad());
        }
        let (stream, after) = rest.split_at(stream_len);
        Ok(ConsumersToken {
            stream: stream.to_string(),
            stream_created_ms,
            after: after.to_string(),
            issued_ms,
        })
    }
}

/// Decodes `text` as a ListStreamConsumers NextToken (for the fuzz targets); must never panic,
/// and what decodes must encode back to an equal token.
pub(crate) fn fuzz_consumers_token(text: &str) {
    if let Ok(t) = ConsumersToken::decode(text) {
        let again = ConsumersToken::decode(&t.encode()).map(|u| (u.stream, u.after, u.issued_ms));
        assert_eq!(again.ok(), Some((t.stream, t.after, t.issued_ms)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_arns_split_into_stream_name_and_second() {
        assert_eq!(
            parse_consumer_arn(
                "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c-1:1700000000"
            ),
            Some((
                "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                "c-1",
                1_700_000_000
            ))
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/:1",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:x",
            "arn:aws:s3:::b/consumer/c:1",
        ] {
            assert_eq!(parse_consumer_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn list_tokens_round_trip_and_refuse_tampering() {
        let t = ConsumersToken {
            stream: "a|b".into(),
            stream_created_ms: 5,
            after: "c|d".into(),
            issued_ms: 9,
        };
        let text = t.encode();
        let back = ConsumersToken::decode(&text).unwrap();
        assert_eq!((back.stream.as_str(), back.after.as_str()), ("a|b", "c|d"));
        assert_eq!((back.stream_created_ms, back.issued_ms), (5, 9));
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut raw = b64.decode(&text).unwrap();
        raw[3] ^= 1;
        assert!(ConsumersToken::decode(&b64.encode(raw)).is_err());
        assert!(ConsumersToken::decode("not a token").is_err());
    }
}
