//! Stream lifecycle: create and wait for ACTIVE, list shards, delete.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::client::{ApiResponse, Conn, Op};
use crate::ctx::Ctx;
use crate::proto;

/// Errors a control-plane call may hit on a busy server; retried.
fn is_retryable(kind: &str) -> bool {
    matches!(
        kind,
        "LimitExceededException" | "ProvisionedThroughputExceededException" | "ThrottlingException"
    ) || kind.starts_with("HTTP5")
        || kind == "InternalFailure"
        || kind == "ServiceUnavailable"
}

async fn call_retrying(conn: &mut Conn, op: Op, body: bytes::Bytes) -> Result<ApiResponse> {
    let mut delay = Duration::from_millis(50);
    for _ in 0..20 {
        let resp = conn.call(op, body.clone()).await?;
        match resp.error_type() {
            Some(kind) if is_retryable(&kind) => {
                tracing::debug!("{op:?} got {kind}, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            _ => return Ok(resp),
        }
    }
    bail!("{op:?}: still throttled after 20 attempts")
}

fn fail(op: Op, resp: &ApiResponse) -> anyhow::Error {
    anyhow::anyhow!(
        "{op:?} failed: HTTP {} {}",
        resp.status,
        String::from_utf8_lossy(&resp.body)
    )
}

/// Creates the stream (an existing one is fine), waits until it is ACTIVE and
/// returns its open shard ids.
pub async fn setup(ctx: &Ctx, shards: u32, wait: Duration) -> Result<Vec<String>> {
    let mut conn = ctx.conn();
    let resp = call_retrying(
        &mut conn,
        Op::CreateStream,
        proto::create_stream_body(&ctx.stream, shards),
    )
    .await?;
    match resp.error_type().as_deref() {
        None => tracing::info!("created stream {} with {shards} shards", ctx.stream),
        Some("ResourceInUseException") => tracing::info!("stream {} already exists", ctx.stream),
        Some(_) => return Err(fail(Op::CreateStream, &resp)),
    }
    let shards = wait_active(ctx, &mut conn, wait).await?;
    let Some(key) = &ctx.encrypt else {
        return Ok(shards);
    };
    // Records put from here on are sealed at rest: the stream goes UPDATING, then ACTIVE.
    let resp = call_retrying(
        &mut conn,
        Op::StartStreamEncryption,
        proto::start_stream_encryption_body(&ctx.stream, key),
    )
    .await?;
    if !resp.is_success() {
        return Err(fail(Op::StartStreamEncryption, &resp));
    }
    tracing::info!("stream {} encrypted with {key}", ctx.stream);
    wait_active(ctx, &mut conn, wait).await
}

/// Polls DescribeStream until ACTIVE; returns the open shard ids.
pub async fn wait_active(ctx: &Ctx, conn: &mut Conn, wait: Duration) -> Result<Vec<String>> {
    let deadline = Instant::now() + wait;
    loop {
        let (status, shards) = describe(ctx, conn).await?;
        if status == "ACTIVE" {
            return Ok(shards);
        }
        if Instant::now() > deadline {
            bail!("stream {} still {status} after {wait:?}", ctx.stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Status and open shard ids (following `HasMoreShards` pagination).
pub async fn describe(ctx: &Ctx, conn: &mut Conn) -> Result<(String, Vec<String>)> {
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let resp = call_retrying(
            conn,
            Op::DescribeStream,
            proto::describe_stream_body(&ctx.stream, start.as_deref()),
        )
        .await?;
        if !resp.is_success() {
            return Err(fail(Op::DescribeStream, &resp));
        }
        let d: proto::DescribeStreamResponse =
            serde_json::from_slice(&resp.body).context("parsing DescribeStream response")?;
        let desc = d.stream_description;
        start = desc.shards.last().map(|s| s.shard_id.clone());
        shards.extend(
            desc.shards
                .into_iter()
                .filter(|s| s.is_open())
                .map(|s| s.shard_id),
        );
        if !desc.has_more_shards || start.is_none() {
            return Ok((desc.stream_status, shards));
        }
    }
}

/// Open shard ids of an existing, ACTIVE stream.
pub async fn open_shards(ctx: &Ctx) -> Result<Vec<String>> {
    let mut conn = ctx.conn();
    wait_active(ctx, &mut conn, Duration::from_secs(60)).await
}

/// Deletes the stream and waits until it is gone (a missing stream is fine).
pub async fn teardown(ctx: &Ctx, wait: Duration) -> Result<()> {
    delete_and_wait(ctx, proto::stream_only_body(&ctx.stream), wait).await
}

/// Deletes a stream with registered consumers (EnforceConsumerDeletion) and waits until it is
/// gone. Only where consumers were registered: older emulators may not know the member.
pub async fn teardown_with_consumers(ctx: &Ctx, wait: Duration) -> Result<()> {
    delete_and_wait(ctx, proto::delete_stream_enforced_body(&ctx.stream), wait).await
}

async fn delete_and_wait(ctx: &Ctx, body: bytes::Bytes, wait: Duration) -> Result<()> {
    let mut conn = ctx.conn();
    let resp = call_retrying(&mut conn, Op::DeleteStream, body).await?;
    match resp.error_type().as_deref() {
        None | Some("ResourceNotFoundException") => {}
        Some(_) => return Err(fail(Op::DeleteStream, &resp)),
    }
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let resp = call_retrying(
            &mut conn,
            Op::DescribeStream,
            proto::stream_only_body(&ctx.stream),
        )
        .await?;
        if resp.error_type().as_deref() == Some("ResourceNotFoundException") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("stream {} not gone after {wait:?}", ctx.stream)
}

/// Registers `n` consumers (`rheo-bench-c<i>`; existing ones are reused) on the stream and
/// waits until all are ACTIVE; returns their ARNs.
pub async fn ensure_consumers(ctx: &Ctx, n: usize, wait: Duration) -> Result<Vec<String>> {
    let mut conn = ctx.conn();
    let resp = call_retrying(
        &mut conn,
        Op::DescribeStream,
        proto::describe_stream_body(&ctx.stream, None),
    )
    .await?;
    if !resp.is_success() {
        return Err(fail(Op::DescribeStream, &resp));
    }
    let d: proto::DescribeStreamResponse = serde_json::from_slice(&resp.body)?;
    let stream_arn = d
        .stream_description
        .stream_arn
        .context("DescribeStream has no StreamARN")?;
    let names: Vec<String> = (0..n).map(|i| format!("rheo-bench-c{i}")).collect();
    for name in &names {
        let resp = call_retrying(
            &mut conn,
            Op::RegisterStreamConsumer,
            proto::register_consumer_body(&stream_arn, name),
        )
        .await?;
        match resp.error_type().as_deref() {
            None | Some("ResourceInUseException") => {}
            Some(_) => return Err(fail(Op::RegisterStreamConsumer, &resp)),
        }
    }
    let deadline = Instant::now() + wait;
    let mut arns = Vec::with_capacity(n);
    for name in &names {
        loop {
            let resp = call_retrying(
                &mut conn,
                Op::DescribeStreamConsumer,
                proto::describe_consumer_body(&stream_arn, name),
            )
            .await?;
            if !resp.is_success() {
                return Err(fail(Op::DescribeStreamConsumer, &resp));
            }
            let c: proto::DescribeConsumerResponse = serde_json::from_slice(&resp.body)?;
            if c.consumer.status == "ACTIVE" {
                arns.push(c.consumer.arn);
                break;
            }
            if Instant::now() > deadline {
                bail!("consumer {name} not ACTIVE after {wait:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(arns)
}
