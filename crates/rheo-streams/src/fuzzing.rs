//! Fuzz entry points for the domain's decoders of client-supplied tokens (shard iterators,
//! sequence numbers, shard ids, hash keys, consumer ARNs, ListShards/ListStreams/
//! ListStreamConsumers NextTokens). Wired to
//! cargo-fuzz in `fuzz/` and run on random input by the property tests.

use crate::hash::parse_hash_key;
use crate::iterator::ShardIterator;
use crate::meta::parse_shard_id;
use crate::sequence::SequenceNumber;

/// Decodes `data` as every kind of token; whatever decodes must encode back to an equal value.
pub fn fuzz_tokens(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(it) = ShardIterator::decode(&text) {
        assert_eq!(ShardIterator::decode(&it.encode()), Ok(it));
    }
    if let Ok(seq) = SequenceNumber::parse(&text) {
        assert_eq!(SequenceNumber::parse(&seq.to_string()), Ok(seq));
    }
    if let Ok((shard, None)) = SequenceNumber::parse_position(&text) {
        let start = SequenceNumber::shard_start(shard);
        assert_eq!(SequenceNumber::parse_position(&start), Ok((shard, None)));
    }
    if let Some((stream_arn, name, secs)) = crate::consumers::parse_consumer_arn(&text) {
        let again = format!("{stream_arn}/consumer/{name}:{secs}");
        assert_eq!(
            crate::consumers::parse_consumer_arn(&again),
            Some((stream_arn, name, secs))
        );
    }
    if let Some(i) = parse_shard_id(&text) {
        assert_eq!(parse_shard_id(&crate::meta::shard_id(i)), Some(i));
    }
    if let Some(k) = parse_hash_key(&text) {
        assert_eq!(parse_hash_key(&k.to_string()), Some(k));
    }
    crate::admin::fuzz_next_tokens(&text);
    crate::consumers::fuzz_consumers_token(&text);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tokens_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::fuzz_tokens(&data);
        }

        #[test]
        fn base64_tokens_never_panic(text in "[A-Za-z0-9+/=]{0,200}") {
            super::fuzz_tokens(text.as_bytes());
        }
    }
}
