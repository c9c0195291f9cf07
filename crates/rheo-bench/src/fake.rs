//! A tiny in-memory Kinesis stand-in for tests of the whole client loop
//! (setup, put, get, e2e, teardown), with an injectable read fault so the
//! verification's failure path is exercised too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Default)]
pub struct State {
    streams: HashMap<String, Vec<Vec<(String, String)>>>,
    next_seq: u64,
    /// When set, GetRecords repeats the first record of every non-empty answer.
    pub duplicate_reads: bool,
}

pub type Shared = Arc<Mutex<State>>;

fn err(kind: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": kind}))
}

fn handle(state: &Shared, target: &str, body: &Value) -> (u16, Value) {
    let mut st = match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let name = body["StreamName"].as_str().unwrap_or_default().to_string();
    match target {
        "CreateStream" => {
            if st.streams.contains_key(&name) {
                return err("ResourceInUseException");
            }
            let n = body["ShardCount"].as_u64().unwrap_or(1) as usize;
            st.streams.insert(name, vec![Vec::new(); n]);
            (200, json!({}))
        }
        "DeleteStream" => match st.streams.remove(&name) {
            Some(_) => (200, json!({})),
            None => err("ResourceNotFoundException"),
        },
        "DescribeStream" => match st.streams.get(&name) {
            Some(shards) => {
                let list: Vec<Value> = (0..shards.len())
                    .map(|i| {
                        json!({"ShardId": format!("shardId-{i:012}"),
                        "SequenceNumberRange": {"StartingSequenceNumber": "0"}})
                    })
                    .collect();
                (
                    200,
                    json!({"StreamDescription": {"StreamStatus": "ACTIVE",
                    "HasMoreShards": false, "Shards": list}}),
                )
            }
            None => err("ResourceNotFoundException"),
        },
        "PutRecords" => {
            let Some(n) = st.streams.get(&name).map(Vec::len) else {
                return err("ResourceNotFoundException");
            };
            let mut results = Vec::new();
            for r in body["Records"].as_array().cloned().unwrap_or_default() {
                let key = r["PartitionKey"].as_str().unwrap_or_default();
                let shard = key.bytes().map(usize::from).sum::<usize>() % n;
                st.next_seq += 1;
                let seq = format!("4959{:020}", st.next_seq);
                let data = r["Data"].as_str().unwrap_or_default().to_string();
                if let Some(s) = st.streams.get_mut(&name).and_then(|v| v.get_mut(shard)) {
                    s.push((seq.clone(), data));
                }
                results.push(
                    json!({"SequenceNumber": seq, "ShardId": format!("shardId-{shard:012}")}),
                );
            }
            (200, json!({"FailedRecordCount": 0, "Records": results}))
        }
        "GetShardIterator" => {
            let shard: usize = body["ShardId"]
                .as_str()
                .and_then(|s| s.strip_prefix("shardId-"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let Some(recs) = st.streams.get(&name).and_then(|v| v.get(shard)) else {
                return err("ResourceNotFoundException");
            };
            let pos = match body["ShardIteratorType"].as_str() {
                Some("LATEST") => recs.len(),
                Some("AFTER_SEQUENCE_NUMBER") => {
                    let after = body["StartingSequenceNumber"].as_str().unwrap_or_default();
                    recs.iter()
                        .position(|(s, _)| s == after)
                        .map_or(0, |p| p + 1)
                }
                _ => 0,
            };
            (
                200,
                json!({"ShardIterator": format!("{name}|{shard}|{pos}")}),
            )
        }
        "GetRecords" => {
            let it = body["ShardIterator"].as_str().unwrap_or_default();
            let parts: Vec<&str> = it.split('|').collect();
            let [stream, shard, pos] = parts.as_slice() else {
                return err("InvalidArgumentException");
            };
            let (shard, pos): (usize, usize) =
                (shard.parse().unwrap_or(0), pos.parse().unwrap_or(0));
            let limit = body["Limit"].as_u64().unwrap_or(10_000) as usize;
            let Some(recs) = st.streams.get(*stream).and_then(|v| v.get(shard)) else {
                return err("ResourceNotFoundException");
            };
            let end = (pos + limit).min(recs.len());
            let mut out: Vec<Value> = recs
                .get(pos..end)
                .unwrap_or_default()
                .iter()
                .map(|(s, d)| json!({"SequenceNumber": s, "Data": d, "PartitionKey": "k"}))
                .collect();
            if st.duplicate_reads {
                if let Some(first) = out.first().cloned() {
                    out.push(first);
                }
            }
            (
                200,
                json!({"Records": out, "MillisBehindLatest": 0,
                "NextShardIterator": format!("{stream}|{shard}|{end}")}),
            )
        }
        _ => err("UnknownOperationException"),
    }
}

/// Starts the fake on an ephemeral loopback port.
pub async fn start() -> (SocketAddr, Shared) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state: Shared = Arc::default();
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let st = st.clone();
                    async move {
                        let target = req
                            .headers()
                            .get("x-amz-target")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("Kinesis_20131202."))
                            .unwrap_or_default()
                            .to_string();
                        let auth_ok = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="));
                        let body = req.into_body().collect().await?.to_bytes();
                        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let (status, v) = if auth_ok {
                            handle(&st, &target, &parsed)
                        } else {
                            err("MissingAuthenticationTokenException")
                        };
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .status(status)
                                .header("content-type", "application/x-amz-json-1.1")
                                .body(Full::new(Bytes::from(v.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    (addr, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{AuthConfig, Endpoint};
    use crate::ctx::Ctx;
    use crate::{admin, e2e, get, put, verify};
    use std::time::Duration;

    fn ctx(addr: SocketAddr) -> Ctx {
        Ctx {
            endpoint: Arc::new(Endpoint::parse(&format!("http://{addr}")).unwrap()),
            auth: Arc::new(AuthConfig::default()),
            timeout: Duration::from_secs(5),
            stream: "t".into(),
            server_pids: vec!["self".into()],
            encrypt: None,
        }
    }

    fn put_opts() -> put::PutOpts {
        put::PutOpts {
            connections: 2,
            batch: 20,
            record_size: 64,
            key_spread: 50,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            backoff: Duration::ZERO,
            bodies: 3,
            rate: 0.0,
        }
    }

    async fn put_and_read(ctx: &Ctx, shards: &[String]) -> verify::Verification {
        let (pr, acks) = put::run(ctx, &put_opts()).await.unwrap();
        assert!(pr.acked_total > 0);
        assert_eq!(pr.acked_total as usize, acks.len());
        assert!(pr.records > 0 && pr.records <= pr.acked_total);
        assert!(pr.latency.count > 0);
        assert!(pr.server.is_some());
        let expected = acks
            .by_shard
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect();
        let gopts = get::GetOpts {
            limit: 37,
            duration: Duration::from_secs(10),
            idle: Duration::from_millis(200),
            expected: Some(expected),
        };
        let (gr, read) = get::run(ctx, shards, &gopts).await.unwrap();
        assert_eq!(gr.shards, shards.len());
        assert_eq!(gr.bytes, gr.records * 64);
        verify::verify(&acks, &read, pr.unknown_outcome_records)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn full_cycle_against_fake_server_verifies() {
        let (addr, _state) = start().await;
        let ctx = ctx(addr);
        let shards = admin::setup(&ctx, 3, Duration::from_secs(5)).await.unwrap();
        assert_eq!(shards.len(), 3);
        // Existing stream is tolerated.
        assert_eq!(
            admin::setup(&ctx, 3, Duration::from_secs(5))
                .await
                .unwrap()
                .len(),
            3
        );
        let v = put_and_read(&ctx, &shards).await;
        assert!(v.ok, "{v:?}");
        assert_eq!(v.acked, v.read);

        let eopts = e2e::E2eOpts {
            rate: 400,
            duration: Duration::from_millis(500),
            interval: Duration::from_millis(10),
            max_batch: 50,
            record_size: 40,
            key_spread: 50,
            poll: Duration::from_millis(1),
            drain: Duration::from_secs(2),
            push_consumers: 0,
        };
        let er = e2e::run(&ctx, &shards, &eopts).await.unwrap();
        assert!(er.acked >= 150, "{er:?}");
        assert_eq!(er.received, er.acked, "{er:?}");
        assert_eq!((er.lost, er.duplicates), (0, 0));
        assert_eq!(er.latency.count, er.received);

        admin::teardown(&ctx, Duration::from_secs(5)).await.unwrap();
        // Gone: tearing down again is fine too.
        admin::teardown(&ctx, Duration::from_secs(5)).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn paced_put_offers_the_target_rate() {
        let (addr, _state) = start().await;
        let ctx = ctx(addr);
        let shards = admin::setup(&ctx, 2, Duration::from_secs(5)).await.unwrap();
        // 2 connections x 20 records at 2,000 records/s: one request per
        // connection every 20 ms, 0.1 s of warm-up then 0.5 s measured.
        let opts = put::PutOpts {
            rate: 2000.0,
            duration: Duration::from_millis(500),
            warmup: Duration::from_millis(100),
            ..put_opts()
        };
        let (pr, acks) = put::run(&ctx, &opts).await.unwrap();
        assert_eq!(pr.target_rate, Some(2000.0));
        // 0.6 s in all at 2,000/s = 1,200 records (30 rounds of 40); the
        // fake answers in well under the 20 ms interval, so none is skipped
        // and none comes early.
        assert!(
            (1000..=1240).contains(&pr.acked_total),
            "{}",
            pr.acked_total
        );
        assert!(
            (1500.0..=2300.0).contains(&pr.records_per_sec),
            "{}",
            pr.records_per_sec
        );
        let sched = pr.latency_from_schedule.unwrap();
        assert!(sched.count > 0);
        // From the schedule is never shorter than from the actual send.
        assert!(
            sched.p50_ms >= pr.latency.p50_ms,
            "{sched:?} {:?}",
            pr.latency
        );
        assert_eq!(acks.len() as u64, pr.acked_total);
        assert_eq!(shards.len(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn duplicated_reads_fail_verification() {
        let (addr, state) = start().await;
        state.lock().unwrap().duplicate_reads = true;
        let ctx = ctx(addr);
        let shards = admin::setup(&ctx, 2, Duration::from_secs(5)).await.unwrap();
        let v = put_and_read(&ctx, &shards).await;
        assert!(!v.ok);
        assert!(v.duplicate_reads > 0, "{v:?}");
        assert!(v.order_violations > 0, "{v:?}");
        assert_eq!(v.missing, 0);
    }
}
