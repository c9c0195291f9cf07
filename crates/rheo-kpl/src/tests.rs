use proptest::prelude::*;

use super::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes `aws-kinesis-agg` (the PyPI package) writes for one user record, pk "a", data "x".
#[test]
fn one_record_is_encoded_byte_for_byte_as_the_python_aggregator_does() {
    let mut agg = Aggregator::new(DEFAULT_MAX_SIZE);
    assert!(agg.try_add("a", None, b"x"));
    let size = agg.size();
    let data = agg.finish();
    assert_eq!(
        hex(&data),
        "f3899ac20a01611a0508001a0178274fa4a221609241966b02c7afbf4283"
    );
    assert_eq!(size, data.len());
    assert!(agg.is_empty() && agg.size() == 0);
}

/// Both partition keys first, then the hash-key table, then the records, each table in
/// first-seen order; a record without an explicit hash key has no index for it.
#[test]
fn tables_come_first_in_first_seen_order() {
    let ehk = "170141183460469231731687303715884105728";
    let mut agg = Aggregator::new(DEFAULT_MAX_SIZE);
    assert!(agg.try_add("a", Some(ehk), b"x"));
    assert!(agg.try_add("b", None, b"yz"));
    let data = agg.finish();
    let body = &data[4..data.len() - 16];
    let mut want = hex(b"\x0a\x01a\x0a\x01b\x12\x27");
    want.push_str(&hex(ehk.as_bytes()));
    want.push_str("1a07080010001a0178");
    want.push_str("1a0608011a02797a");
    assert_eq!(hex(body), want);
    assert_eq!(
        deaggregate(&data).unwrap().unwrap(),
        vec![
            UserRecord {
                partition_key: "a".into(),
                explicit_hash_key: Some(ehk.into()),
                data: b"x".to_vec()
            },
            UserRecord {
                partition_key: "b".into(),
                explicit_hash_key: None,
                data: b"yz".to_vec()
            },
        ]
    );
}

#[test]
fn anything_not_framed_as_an_aggregate_is_a_plain_record() {
    let mut agg = Aggregator::new(DEFAULT_MAX_SIZE);
    agg.try_add("k", None, b"payload");
    let good = agg.finish();
    assert!(is_aggregated(&good));
    let mut bad_digest = good.clone();
    let last = bad_digest.len() - 1;
    bad_digest[last] ^= 1;
    let mut bad_body = good.clone();
    bad_body[6] ^= 0xff;
    for plain in [
        &b""[..],
        b"plain text",
        &MAGIC[..],
        &good[..20], // magic and no more than a digest's worth
        &bad_digest,
        &bad_body,
    ] {
        assert_eq!(deaggregate(plain), Ok(None), "{}", hex(plain));
    }
}

/// Framed correctly and parseable, but a record names a key the table lacks: corrupt.
#[test]
fn an_index_outside_its_table_is_a_corrupt_aggregate() {
    let aggregate = AggregatedRecord {
        partition_key_table: vec!["a".into()],
        explicit_hash_key_table: vec![],
        records: vec![Record {
            partition_key_index: 0,
            explicit_hash_key_index: Some(3),
            data: b"x".to_vec(),
            tags: vec![],
        }],
    };
    let body = aggregate.encode_to_vec();
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&body);
    data.extend_from_slice(&Md5::digest(&body));
    assert_eq!(
        deaggregate(&data),
        Err(KplError::IndexOutOfRange {
            record: 0,
            table: "explicit hash key",
            index: 3,
            len: 0
        })
    );
}

#[test]
fn the_size_limit_refuses_a_record_that_would_cross_it_but_never_the_first() {
    let mut agg = Aggregator::new(100);
    assert!(
        agg.try_add("k", None, &[7; 200]),
        "the first is always taken"
    );
    assert!(!agg.try_add("k", None, b"more"));
    let data = agg.finish();
    assert_eq!(deaggregate(&data).unwrap().unwrap().len(), 1);
    let mut agg = Aggregator::new(100);
    while agg.try_add("key", None, b"0123456789") {}
    assert!(agg.size() <= 100 && agg.len() > 1);
    assert_eq!(agg.finish().len(), agg_size_after_refill(100));
}

fn agg_size_after_refill(max: usize) -> usize {
    let mut agg = Aggregator::new(max);
    while agg.try_add("key", None, b"0123456789") {}
    agg.size()
}

#[test]
fn hash_keys_are_the_explicit_one_or_the_md5_of_the_partition_key() {
    // MD5("a") = 0cc175b9c0f1b6a831c399e269772661, read big-endian.
    assert_eq!(
        hash_key("a", None),
        Ok(0x0cc1_75b9_c0f1_b6a8_31c3_99e2_6977_2661)
    );
    assert_eq!(hash_key("ignored", Some("42")), Ok(42));
    assert_eq!(hash_key("x", Some(&u128::MAX.to_string())), Ok(u128::MAX));
    for bad in [
        "",
        "-1",
        "+1",
        "1e3",
        "0x10",
        "340282366920938463463374607431768211456",
    ] {
        assert_eq!(
            hash_key("x", Some(bad)),
            Err(KplError::BadHashKey(bad.to_string())),
            "{bad}"
        );
    }
}

fn user_record() -> impl Strategy<Value = UserRecord> {
    (
        "[a-z]{1,4}",
        proptest::option::of(any::<u128>().prop_map(|k| k.to_string())),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(partition_key, explicit_hash_key, data)| UserRecord {
            partition_key,
            explicit_hash_key,
            data,
        })
}

proptest! {
    /// Whatever is added comes back, in order, and the running size is the encoded size.
    #[test]
    fn aggregates_round_trip_and_know_their_size(
        records in proptest::collection::vec(user_record(), 1..60),
        max in 64usize..4096,
    ) {
        let mut agg = Aggregator::new(max);
        let mut taken = Vec::new();
        for r in &records {
            if !agg.try_add(&r.partition_key, r.explicit_hash_key.as_deref(), &r.data) {
                break;
            }
            taken.push(r.clone());
        }
        prop_assert!(!taken.is_empty());
        prop_assert!(taken.len() == 1 || agg.size() <= max);
        let size = agg.size();
        let data = agg.finish();
        prop_assert_eq!(size, data.len());
        prop_assert_eq!(deaggregate(&data).unwrap().unwrap(), taken);
    }

    /// No input makes the reader panic; what it accepts re-encodes to the same user records.
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut framed = MAGIC.to_vec();
        framed.extend_from_slice(&bytes);
        framed.extend_from_slice(&Md5::digest(&bytes));
        let _ = deaggregate(&bytes);
        let _ = deaggregate(&framed);
    }
}
