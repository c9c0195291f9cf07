//! The fast-path fuzz bodies of `rheo_api_kinesis::fuzzing` as property tests, since CI runs `cargo test`
//! but not `cargo fuzz`.
//!
//! The PutRecords check is differential: it only compares the two decoders when the fast path
//! accepts. Arbitrary bytes almost never get that far, so most cases here are PutRecords bodies
//! built member by member (valid values at the model's limits, escapes, nulls, duplicated and
//! unknown members, non-canonical base64 endings, odd whitespace) and then mutated at the byte
//! level. A body with nothing unusual in it must be accepted, and a separate test asserts that a
//! good share of all generated bodies is, so the comparison cannot pass by never running.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use rheo_api_kinesis::fuzzing::{check_fast_put_records, fuzz_fast_get_records_json};

/// A JSON value as text, and whether the fast path must accept it in its place.
type Value = (String, bool);

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn odd(values: &[&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::select(values.to_vec()).prop_map(|v| (v.to_string(), false))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Canonical base64 with the last character before the padding moved up the alphabet, so the
/// bits the padding leaves over are no longer zero (valid characters, non-canonical ending).
fn non_canonical(bytes: &[u8], bump: u8) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = b64(bytes).into_bytes();
    let pads = text.iter().rev().take_while(|&&c| c == b'=').count();
    let mask = if pads == 2 { 0x0f } else { 0x03 };
    let at = text.len() - pads - 1;
    let v = ALPHABET.iter().position(|&c| c == text[at]).unwrap() as u8;
    // Only the leftover bits change, so the decoded bytes a lenient decoder returns stay the same.
    text[at] = ALPHABET[usize::from((v & !mask) | ((v + bump) & mask).max(1))];
    String::from_utf8(text).unwrap()
}

fn data(o: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(|b| (quoted(&b64(&b)), true)),
        1 => proptest::collection::vec(any::<u8>(), 300..3000).prop_map(|b| (quoted(&b64(&b)), true)),
        o => (proptest::collection::vec(any::<u8>(), 1..30), 1u8..16)
            .prop_filter("needs padding", |(b, _)| b.len() % 3 != 0)
            .prop_map(|(b, bump)| (quoted(&non_canonical(&b, bump)), false)),
        o => odd(&[
            "\"aGk\"", "\"a=Gk\"", "\"aGk=aGk=\"", "\"aGk==\"", "\"====\"", "\"a===\"",
            "\"aG k=\"", "\"aGk=\\n\"", "\"aGk\\u003d\"", "\"aG-_\"", "\"aGl\\/\"", "\"!!!!\"",
            "null", "1", "[]", "\"\\u0000AAA\"",
        ]),
    ]
}

fn partition_key(o: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => "[a-zA-Z0-9_.-]{1,16}".prop_map(|k| (quoted(&k), true)),
        4 => "[aé€\u{1F600}/ '<>\u{7f}]{1,10}".prop_map(|k| (quoted(&k), true)),
        // 256 bytes is the fast path's limit, whatever the characters.
        o => prop::sample::select(vec![
            ("k".repeat(256), true),
            ("é".repeat(128), true),
            ("\u{1F600}".repeat(64), true),
            ("k".repeat(257), false),
            ("é".repeat(129), false),
            (format!("a{}", "\u{1F600}".repeat(64)), false),
        ])
        .prop_map(|(k, plain)| (quoted(&k), plain)),
        o => odd(&[
            "\"\"", "\"\\u0041\"", "\"a\\\"b\"", "\"\\/\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
            "\"\\ud800\"", "\"a\u{1}b\"", "\"a\tb\"", "null", "7", "{}",
        ]),
    ]
}

/// `None` for no ExplicitHashKey member.
fn hash_key(o: u32) -> impl Strategy<Value = (Option<String>, bool)> {
    prop_oneof![
        36 => Just((None, true)),
        4 => "0|[1-9][0-9]{0,38}".prop_map(|k| (Some(quoted(&k)), true)),
        1 => Just((Some(quoted("340282366920938463463374607431768211455")), true)),
        1 => Just((Some(quoted("340282366920938463463374607431768211456")), true)),
        o => odd(&[
            "\"01\"", "\"00\"", "\"-1\"", "\"1111111111111111111111111111111111111111\"", "\"\"",
            "\" 1\"", "\"1.0\"", "\"1e3\"", "\"\\u0031\"", "null", "12", "\"x\"",
        ])
        .prop_map(|(k, _)| (Some(k), false)),
    ]
}

fn stream_name(o: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => "[a-zA-Z0-9_.-]{1,24}".prop_map(|n| (quoted(&n), true)),
        // The limit either side: the fast path must neither stop short of it nor pass it.
        2 => Just((quoted(&"n".repeat(128)), true)),
        o => Just((quoted(&"n".repeat(129)), false)),
        o => prop::sample::select(vec![
            quoted(""), quoted("a b"), quoted("é"), quoted("s\\u0041"),
            quoted("a/b"), "null".to_string(), "1".to_string(),
        ])
        .prop_map(|n| (n, false)),
    ]
}

/// Something to do to an object's member list after it is built.
#[derive(Clone, Debug)]
enum Extra {
    None,
    /// Repeat member `.0` (with its own value, or `.1` instead when given).
    Duplicate(Index, Option<&'static str>),
    /// An unknown member, or a known one the fast path leaves to the generic path (a null, a
    /// StreamARN).
    Member(&'static str),
}

fn extra(o: u32, members: &'static [&'static str]) -> impl Strategy<Value = Extra> {
    prop_oneof![
        80 => Just(Extra::None),
        o => (any::<Index>(), prop::option::of(prop::sample::select(vec!["\"aGk=\"", "\"b\"", "null"])))
            .prop_map(|(i, v)| Extra::Duplicate(i, v)),
        o => prop::sample::select(members.to_vec()).prop_map(Extra::Member),
    ]
}

/// Renders members (shuffled by `order`) with `extra` applied; whether it left them plain.
fn object(
    mut members: Vec<(&'static str, String)>,
    order: &[Index],
    extra: &Extra,
    ws: &str,
) -> Value {
    for (i, at) in order.iter().enumerate().take(members.len()) {
        let j = at.index(members.len());
        members.swap(i, j);
    }
    let plain = match extra {
        Extra::None => true,
        Extra::Duplicate(i, v) => {
            let (name, value) = members[i.index(members.len())].clone();
            members.push((name, v.map_or(value, str::to_string)));
            false
        }
        Extra::Member(m) => {
            let (name, value) = m.split_once(':').unwrap();
            members.push((name.trim_matches('"'), value.to_string()));
            false
        }
    };
    let text: Vec<String> = members
        .iter()
        .map(|(n, v)| format!("{ws}\"{n}\"{ws}:{ws}{v}{ws}"))
        .collect();
    (format!("{{{}}}", text.join(",")), plain)
}

/// A record's members, and whether they are plain.
type Members = (Vec<(&'static str, String)>, bool);

fn record(o: u32) -> impl Strategy<Value = (Members, Vec<Index>, Extra)> {
    let members =
        (data(o), partition_key(o), hash_key(o)).prop_map(|((d, dp), (k, kp), (h, hp))| {
            let mut m = vec![("Data", d), ("PartitionKey", k)];
            m.extend(h.map(|h| ("ExplicitHashKey", h)));
            (m, dp && kp && hp)
        });
    (
        members,
        proptest::collection::vec(any::<Index>(), 3),
        extra(
            o,
            &[
                "\"ExplicitHashKey\":null",
                "\"Other\":1",
                "\"Data\":null",
                "\"partitionKey\":\"a\"",
            ],
        ),
    )
}

/// How many records: mostly a few, sometimes none or the limit either side.
fn record_count() -> impl Strategy<Value = (usize, bool)> {
    prop_oneof![
        30 => (1usize..6).prop_map(|n| (n, true)),
        1 => Just((0, false)),
        1 => Just((500, true)),
        1 => Just((501, false)),
    ]
}

/// A byte-level change to a rendered body.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// An ASCII alphanumeric byte becomes its `\u00XX` escape (the same text inside a string).
    Escape(Index),
    Append(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(b"\"\\=0019aA{}[],: \n\0\x7f\xc3\xff+/-".to_vec());
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        // A letter's case: inside data this is still base64 (other bytes, or a non-canonical
        // ending when it hits the last character), elsewhere usually a different name or value.
        any::<Index>().prop_map(|i| Mutation::Flip(i, 0x20)),
        (any::<Index>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Escape),
        prop::sample::select(vec![" ", "\n", " x", "{}", "\0", ","]).prop_map(Mutation::Append),
    ]
}

fn mutate(body: &mut Vec<u8>, m: &Mutation) {
    let len = body.len();
    match *m {
        Mutation::Flip(i, x) if len > 0 => body[i.index(len)] ^= x,
        Mutation::Insert(i, b) => body.insert(i.index(len + 1), b),
        Mutation::Delete(i) if len > 0 => {
            body.remove(i.index(len));
        }
        Mutation::Escape(i) if len > 0 => {
            let at = i.index(len);
            if body[at].is_ascii_alphanumeric() {
                let escape = format!("\\u{:04x}", body[at]);
                body.splice(at..=at, escape.into_bytes());
            }
        }
        Mutation::Append(s) => body.extend_from_slice(s.as_bytes()),
        _ => {}
    }
}

/// A PutRecords body and whether the fast path must accept it (nothing unusual was put in).
/// Most bodies rarely have anything unusual before the byte-level mutations, a quarter often.
fn put_records_body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![3 => body_with(1), 1 => body_with(8)]
}

/// Bodies whose members are unusual with weight `o` (against about 40 for a plain value).
fn body_with(o: u32) -> impl Strategy<Value = (Vec<u8>, bool)> {
    let top = (
        stream_name(o),
        record_count(),
        proptest::collection::vec(record(o), 1..3),
        proptest::collection::vec(any::<Index>(), 2),
        extra(
            o,
            &[
                "\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/s\"",
                "\"StreamARN\":null",
                "\"Other\":{}",
            ],
        ),
        prop::sample::select(vec!["", "", "", " ", "\n\t", " \r\n "]),
    );
    let mutations = prop_oneof![
        3 => Just(Vec::new()),
        2 => proptest::collection::vec(mutation(), 1..4),
    ];
    (top, mutations).prop_map(
        |((name, (count, count_plain), recs, order, extra, ws), mutations)| {
            let mut plain = name.1 && count_plain;
            let mut list = Vec::with_capacity(count);
            // Large counts cycle through the few generated records.
            for i in 0..count {
                let ((members, rec_plain), rec_order, rec_extra) = &recs[i % recs.len()];
                let (text, shape_plain) = object(members.clone(), rec_order, rec_extra, ws);
                plain &= rec_plain & shape_plain;
                list.push(text);
            }
            let members = vec![
                ("StreamName", name.0),
                ("Records", format!("[{ws}{}{ws}]", list.join(","))),
            ];
            let (text, shape_plain) = object(members, &order, &extra, ws);
            let mut bytes = format!("{ws}{text}{ws}").into_bytes();
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            (bytes, plain && shape_plain && mutations.is_empty())
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn fast_put_records_agrees_on_built_and_mutated_bodies((body, plain) in put_records_body()) {
        let accepted = check_fast_put_records(&body);
        prop_assert!(
            accepted || !plain,
            "the fast path declined a plain body: {}",
            String::from_utf8_lossy(&body)
        );
    }

    #[test]
    fn fast_put_records_survives_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_fast_put_records(&body);
    }

    #[test]
    fn fast_put_records_survives_json_like_text(body in "[{}\\[\\]\":,a-zA-Z0-9=+/ \\\\]{0,200}") {
        check_fast_put_records(body.as_bytes());
    }

    #[test]
    fn fast_get_records_json_matches_the_generic_encoder(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz_fast_get_records_json(&data);
    }
}

/// The differential branch must actually run: without this, a fast path that declined everything
/// (or a generator that only made broken bodies) would pass the property above.
#[test]
fn the_generated_bodies_exercise_the_accept_branch() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted, mut mutated_or_odd_accepted) = (0, 0);
    let total = 600;
    for _ in 0..total {
        let (body, plain) = put_records_body().new_tree(&mut runner).unwrap().current();
        if check_fast_put_records(&body) {
            accepted += 1;
            if !plain {
                mutated_or_odd_accepted += 1;
            }
        }
    }
    assert!(
        accepted * 100 >= total * 30,
        "only {accepted} of {total} generated bodies took the fast path"
    );
    // Harmless mutations (a flipped byte in data or a key, inserted whitespace) must reach the
    // comparison too, not only the bodies built plain.
    assert!(
        mutated_or_odd_accepted >= 12,
        "only {mutated_or_odd_accepted} unusual bodies took the fast path"
    );
}

#[test]
fn non_canonical_endings_are_generated_as_intended() {
    let engine = base64::engine::general_purpose::STANDARD;
    for bytes in [&b"h"[..], b"hi", b"hello", b"\xff\xff"] {
        for bump in 1..16 {
            let text = non_canonical(bytes, bump);
            assert_ne!(text, b64(bytes));
            assert!(engine.decode(&text).is_err(), "{text} decodes");
        }
    }
}
