//! AWS's limits, on by default (the server gets no `--throughput-limits` flag), through the Rust SDK: a PutRecords past a shard's 1,000 records/s
//! answers the extra records ProvisionedThroughputExceededException (written nowhere), PutRecord
//! and the sixth GetRecords within a second are refused, all in AWS's words.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::harness::Server;
use crate::util::*;

#[tokio::test]
async fn throughput_limits_refuse_past_a_shards_budget() {
    let server = Server::start_default();
    let client = server.client();
    create_active(&client, "limited", 1).await;
    let entry = |i: usize| {
        PutRecordsRequestEntry::builder()
            .partition_key(format!("k{i}"))
            .data(Blob::new(vec![b'x'; 10]))
            .build()
            .unwrap()
    };
    let mut admitted: usize = 0;
    let mut refused = 0;
    for chunk in 0..3 {
        let out = client
            .put_records()
            .stream_name("limited")
            .set_records(Some((chunk * 500..chunk * 500 + 500).map(entry).collect()))
            .send()
            .await
            .unwrap();
        for r in out.records() {
            match r.error_code() {
                None => admitted += 1,
                Some(code) => {
                    assert_eq!(code, "ProvisionedThroughputExceededException");
                    assert_eq!(
                        r.error_message(),
                        Some("Rate exceeded for shard shardId-000000000000 in stream limited under account 000000000000.")
                    );
                    refused += 1;
                }
            }
        }
    }
    // 1,500 records in well under a second: one second's budget (1,000, plus what refilled
    // meanwhile) goes through, the rest is refused.
    assert_eq!(admitted + refused, 1500);
    assert!((1000..1500).contains(&admitted), "{admitted} admitted");
    // Bytes: 1 MiB a second. Of three 1 MiB records in a row, the second or third is refused.
    let mut big_refused = 0;
    for _ in 0..3 {
        let r = client
            .put_record()
            .stream_name("limited")
            .partition_key("k")
            .data(Blob::new(vec![b'x'; 1024 * 1024 - 1]))
            .send()
            .await;
        if let Err(e) = r {
            let e = e.into_service_error();
            assert!(e.is_provisioned_throughput_exceeded_exception(), "{e:?}");
            big_refused += 1;
        } else {
            admitted += 1;
        }
    }
    assert!(
        big_refused >= 1,
        "three 1 MiB records in a row were all admitted"
    );

    let it = client
        .get_shard_iterator()
        .stream_name("limited")
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let it = it.shard_iterator().unwrap().to_string();
    let mut read = 0;
    let mut throttled = false;
    for _ in 0..6 {
        match client.get_records().shard_iterator(&it).send().await {
            Ok(out) => read = read.max(out.records().len()),
            Err(e) => {
                let e = e.into_service_error();
                assert!(e.is_provisioned_throughput_exceeded_exception(), "{e:?}");
                throttled = true;
            }
        }
    }
    assert!(throttled, "six GetRecords in a row were all served");
    // Only admitted records were written (one GetRecords answer holds at most 10 MiB, enough).
    assert_eq!(read, admitted);
}
