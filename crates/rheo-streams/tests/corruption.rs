//! A flipped byte in the middle of a disk store's journal (issue 12): the stream whose record it held keeps
//! serving every other record, refuses the damaged one with an error naming its sequence numbers, never hands a
//! sequence number out again, the other stream is untouched, and after `fsck::repair` GetRecords moves past it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::Bytes;
use rheo_log::fsck;
use rheo_streams::clock::ManualClock;
use rheo_streams::sequence::SequenceNumber;
use rheo_streams::types::*;
use rheo_streams::{KinesisError, Streams};

mod common;
use common::{ctx, open};

const N: usize = 40;
const DAMAGED: usize = 20;

fn data(name: &str, i: usize) -> Bytes {
    Bytes::from(format!("{name}-record-{i:04}"))
}

async fn put(s: &Streams, name: &str, i: usize) -> SequenceNumber {
    let r = s
        .put_record(
            &ctx(),
            &StreamTarget::name(name),
            PutEntry {
                data: data(name, i),
                partition_key: "pk".into(),
                explicit_hash_key: None,
            },
        )
        .await
        .unwrap();
    r.sequence
}

/// Reads the stream's only shard from TRIM_HORIZON: the record data served, and the errors met on the way.
async fn read(s: &Streams, name: &str) -> (Vec<Bytes>, Vec<KinesisError>) {
    let mut it = s
        .get_shard_iterator(
            &ctx(),
            GetShardIterator {
                target: StreamTarget::name(name),
                shard_id: "shardId-000000000000".into(),
                kind: IteratorType::TrimHorizon,
                starting_sequence_number: None,
                timestamp_ms: None,
            },
        )
        .await
        .unwrap();
    let (mut got, mut errors) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        match s.get_records(&ctx(), &it, Some(7), None).await {
            Ok(out) => {
                got.extend(out.records.into_iter().map(|r| r.data));
                match out.next_shard_iterator {
                    Some(n) if out.millis_behind_latest > 0 || n != it => it = n,
                    _ => break,
                }
            }
            Err(e) => {
                errors.push(e);
                break;
            }
        }
    }
    (got, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_mid_journal_is_refused_by_name_then_repaired() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let mut acked = SequenceNumber::new(0, rheo_log::Offset(0));
    {
        let s = open(d.path(), &clock);
        for name in ["hurt", "fine"] {
            s.create_stream(
                &ctx(),
                CreateStream {
                    name: name.into(),
                    shard_count: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        clock.advance_ms(101);
        s.tick().await;
        for i in 0..N {
            for name in ["hurt", "fine"] {
                acked = acked.max(put(&s, name, i).await);
            }
        }
    }
    // Flip one byte inside the record "hurt-record-0020" in the (only, active) journal segment.
    let seg = d.path().join("journal").join(format!("{:020}.seg", 1));
    let mut b = std::fs::read(&seg).unwrap();
    let needle = data("hurt", DAMAGED);
    let at = b
        .windows(needle.len())
        .position(|w| w == &needle[..])
        .unwrap();
    b[at + 2] ^= 0x20;
    std::fs::write(&seg, b).unwrap();

    let want_hurt: Vec<Bytes> = (0..N)
        .filter(|i| *i != DAMAGED)
        .map(|i| data("hurt", i))
        .collect();
    {
        let s = open(d.path(), &clock);
        assert_eq!(s.store().corruption_events(), 1);
        let (got, errors) = read(&s, "hurt").await;
        assert_eq!(
            got,
            want_hurt[..DAMAGED].to_vec(),
            "records before the damage"
        );
        let KinesisError::Damaged(msg) = &errors[0] else {
            panic!("{errors:?}");
        };
        assert!(
            msg.contains("shardId-000000000000") && msg.contains("damaged"),
            "{msg}"
        );
        let (got, errors) = read(&s, "fine").await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got, (0..N).map(|i| data("fine", i)).collect::<Vec<_>>());
        // No sequence number handed out again.
        for name in ["hurt", "fine"] {
            assert!(put(&s, name, N).await > acked, "{name}");
        }
    }
    let report = fsck::check(d.path()).unwrap();
    assert!(!report.is_clean(), "{report}");
    let report = fsck::repair(d.path()).unwrap();
    assert_eq!(report.repaired.len(), 1, "{report}");
    let s = open(d.path(), &clock);
    let (got, errors) = read(&s, "hurt").await;
    assert!(
        errors.is_empty(),
        "after repair GetRecords moves past: {errors:?}"
    );
    let mut want = want_hurt;
    want.push(data("hurt", N));
    assert_eq!(got, want);
}
