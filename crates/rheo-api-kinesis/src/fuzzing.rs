//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the in-crate property tests.
//!
//! Each function feeds arbitrary bytes to a public entry point and checks invariants that must hold for
//! any input; a violated invariant panics, which is what a fuzzer reports. Keeping the bodies here means
//! `cargo test` exercises them too, without the nightly-only libFuzzer toolchain.

use bytes::Bytes;
use rheo_streams::hash::HashRange;
use rheo_streams::types::{ChildShard, GetRecordsOutput, Record};

use crate::fast::{self, PutRecordsRequest};
use crate::{decode_request, encode_response, Node, Protocol};

/// Decode `data` as a JSON body for every Kinesis operation.
pub fn fuzz_json_request(data: &[u8]) {
    rheo_proto::fuzzing::decode_all(crate::model(), Protocol::Json, data);
}

/// Decode `data` as a CBOR body for every Kinesis operation.
pub fn fuzz_cbor_request(data: &[u8]) {
    rheo_proto::fuzzing::decode_all(crate::model(), Protocol::Cbor, data);
}

/// Parse `data` as SigV4 data scoped to `kinesis` (see [`rheo_proto::fuzzing::fuzz_auth_header`]).
pub fn fuzz_auth_header(data: &[u8]) {
    rheo_proto::fuzzing::fuzz_auth_header(data, crate::SIGNING_NAME);
}

/// Differential check of the PutRecords fast path: parsing `data` must not panic, and whatever it
/// accepts the generic decoder must accept with the same stream name and the same records.
/// Declining is always allowed.
pub fn fuzz_fast_put_records(data: &[u8]) {
    check_fast_put_records(data);
}

/// [`fuzz_fast_put_records`], returning whether the fast path accepted `body`, so property tests
/// can tell how often the differential branch actually ran.
pub fn check_fast_put_records(body: &[u8]) -> bool {
    let Some(req) = PutRecordsRequest::parse(body) else {
        return false;
    };
    let model = crate::model();
    let Some(op) = model.operation("PutRecords") else {
        panic!("the model has no PutRecords operation");
    };
    match decode_request(model, op, Protocol::Json, body) {
        Ok(input) => assert_same_put_records(&req, &input),
        Err(err) => panic!(
            "the fast path accepted a body the generic path rejects with {err:?}: {}",
            String::from_utf8_lossy(body)
        ),
    }
    true
}

/// Panics unless the generic path's decoded PutRecords `input` holds exactly what the fast path
/// parsed: the stream name, and the records in order with the same partition key, explicit hash
/// key (absent or the same text) and decoded data. Any other member in the tree is a difference
/// too, since the fast path declines bodies with anything else in them.
pub fn assert_same_put_records(req: &PutRecordsRequest<'_>, input: &Node) {
    let Node::Map(members) = input else {
        panic!("the generic input is not a map: {input:?}");
    };
    for (name, _) in members {
        assert!(
            matches!(name.as_str(), "StreamName" | "Records"),
            "the generic path saw member {name} the fast path did not"
        );
    }
    assert_eq!(
        input.get("StreamName").and_then(Node::as_str),
        Some(req.stream_name),
        "stream names differ"
    );
    let Some(Node::List(generic)) = input.get("Records") else {
        panic!("the generic input has no Records list: {input:?}");
    };
    let fast = req.records();
    assert_eq!(fast.len(), generic.len(), "record counts differ");
    for (i, (f, g)) in fast.iter().zip(generic).enumerate() {
        let Node::Map(members) = g else {
            panic!("record {i} is not a map: {g:?}");
        };
        for (name, _) in members {
            assert!(
                matches!(name.as_str(), "Data" | "PartitionKey" | "ExplicitHashKey"),
                "record {i}: the generic path saw member {name} the fast path did not"
            );
        }
        assert_eq!(
            g.get("PartitionKey").and_then(Node::as_str),
            Some(f.partition_key),
            "record {i}: partition keys differ"
        );
        let hash_key = match g.get("ExplicitHashKey") {
            None | Some(Node::Null) => None,
            Some(Node::Str(s)) => Some(s.as_str()),
            Some(other) => panic!("record {i}: ExplicitHashKey is {other:?}"),
        };
        assert_eq!(
            hash_key, f.explicit_hash_key,
            "record {i}: explicit hash keys differ"
        );
        match g.get("Data") {
            Some(Node::Bytes(b)) => assert_eq!(&b[..], f.data, "record {i}: data differs"),
            other => panic!("record {i}: Data is {other:?}"),
        }
    }
}

/// Build a GetRecords output from `data` and check that the fast JSON writer produces exactly the
/// generic encoder's bytes for it, and that those bytes are JSON.
pub fn fuzz_fast_get_records_json(data: &[u8]) {
    let out = get_records_output(data);
    let fast = fast::get_records_json(&out);
    let generic = encode_response(Protocol::Json, &crate::ops::get_records_node(out.clone()));
    assert!(
        fast == generic,
        "the GetRecords fast path wrote\n{}\nthe generic encoder\n{}\nfor {out:?}",
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&generic)
    );
    match serde_json::from_slice::<serde_json::Value>(&fast) {
        Ok(v) => assert_eq!(
            v.get("Records")
                .and_then(serde_json::Value::as_array)
                .map(Vec::len),
            Some(out.records.len()),
            "record count in {v}"
        ),
        Err(e) => panic!("not JSON ({e}): {}", String::from_utf8_lossy(&fast)),
    }
}

/// A GetRecords output read off arbitrary bytes; a short input reads as zeros and empty strings,
/// so every input maps to some output. Strings are the bytes read as (lossy) UTF-8, which keeps
/// control characters, quotes and non-ASCII text that the writers must escape alike.
pub fn get_records_output(data: &[u8]) -> GetRecordsOutput {
    let mut r = Reader(data);
    let flags = r.byte();
    let millis_behind_latest = r.i64();
    let records = (0..r.byte() % 8)
        .map(|_| Record {
            sequence_number: r.string(),
            arrival_ms: r.i64(),
            data: Bytes::copy_from_slice(r.chunk()),
            partition_key: r.string(),
            // Per record: an answer may mix sealed and plain records (around Start/Stop).
            encrypted: r.byte() & 1 != 0,
        })
        .collect();
    let next_shard_iterator = (flags & 2 != 0).then(|| r.string());
    let child_shards = (flags & 4 != 0).then(|| {
        (0..r.byte() % 4)
            .map(|_| ChildShard {
                shard_id: r.string(),
                parent_shards: (0..r.byte() % 3).map(|_| r.string()).collect(),
                range: HashRange {
                    start: r.u128(),
                    end: r.u128(),
                },
            })
            .collect()
    });
    GetRecordsOutput {
        records,
        next_shard_iterator,
        millis_behind_latest,
        child_shards,
        encrypted: flags & 1 != 0,
    }
}

/// Consumes fuzz input front to back; past the end every read is zero or empty.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        for (slot, b) in a.iter_mut().zip(self.take(N)) {
            *slot = *b;
        }
        a
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.array())
    }

    /// A length byte, then that many bytes.
    fn chunk(&mut self) -> &'a [u8] {
        let n = self.byte();
        self.take(usize::from(n))
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(self.chunk()).into_owned()
    }
}
