//! Encryption at rest through the domain's API, with a test [`KeyVault`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use bytes::Bytes;
use rand::RngCore;
use rheo_log::{Batch, LogId, Offset, Store, StoreConfig};
use zeroize::Zeroizing;

use crate::clock::ManualClock;
use crate::seal::{DataKey, KeyError, KeyVault};
use crate::types::*;
use crate::{Config, KinesisError, StreamStatus, Streams};

const T0: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const CUSTOMER_KEY: &str = "11111111-2222-3333-4444-555555555555";

/// A KMS in miniature: keys by ARN (with enabled flags), aliases, data keys wrapped with a
/// master key under AES-GCM, and counts of the calls.
struct TestVault {
    master: Aes256Gcm,
    keys: parking_lot::Mutex<HashMap<String, bool>>,
    generated: std::sync::atomic::AtomicUsize,
    unwrapped: std::sync::atomic::AtomicUsize,
}

fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}")
}

impl TestVault {
    fn new() -> Arc<Self> {
        let mut keys = HashMap::new();
        keys.insert(key_arn("aws-kinesis"), true);
        keys.insert(key_arn(CUSTOMER_KEY), true);
        Arc::new(TestVault {
            master: Aes256Gcm::new(&[9u8; 32].into()),
            keys: parking_lot::Mutex::new(keys),
            generated: Default::default(),
            unwrapped: Default::default(),
        })
    }

    fn set_enabled(&self, id: &str, enabled: bool) {
        self.keys.lock().insert(key_arn(id), enabled);
    }

    fn resolve(&self, key_id: &str) -> Result<String, KeyError> {
        let arn = match key_id {
            "alias/aws/kinesis" => key_arn("aws-kinesis"),
            k if k.starts_with("arn:") => k.to_string(),
            k => key_arn(k),
        };
        match self.keys.lock().get(&arn) {
            Some(true) => Ok(arn),
            Some(false) => Err(KeyError::Disabled(format!("{arn} is disabled."))),
            None => Err(KeyError::NotFound(format!("Key '{arn}' does not exist"))),
        }
    }
}

impl KeyVault for TestVault {
    fn generate_data_key(&self, _: &str, _: &str, key_id: &str) -> Result<DataKey, KeyError> {
        let arn = self.resolve(key_id)?;
        self.generated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut plaintext = Zeroizing::new([0u8; 32]);
        rand::thread_rng().fill_bytes(plaintext.as_mut());
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .master
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_ref())
            .unwrap();
        let mut wrapped = (arn.len() as u16).to_be_bytes().to_vec();
        wrapped.extend_from_slice(arn.as_bytes());
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey {
            plaintext,
            wrapped,
            key_arn: arn,
        })
    }

    fn decrypt_data_key(
        &self,
        _: &str,
        _: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let n = u16::from_be_bytes([wrapped[0], wrapped[1]]) as usize;
        let arn = std::str::from_utf8(&wrapped[2..2 + n]).unwrap();
        self.resolve(arn)?;
        self.unwrapped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce = &wrapped[2 + n..14 + n];
        let plain = self
            .master
            .decrypt(Nonce::from_slice(nonce), &wrapped[14 + n..])
            .map_err(|_| KeyError::InvalidState("bad ciphertext".into()))?;
        Ok(Zeroizing::new(plain.try_into().unwrap()))
    }

    fn key_usable(&self, _: &str, _: &str, key_id: &str) -> Result<(), KeyError> {
        self.resolve(key_id).map(|_| ())
    }
}

fn config() -> Config {
    Config {
        create_stream_ms: 100,
        update_stream_ms: 100,
        throughput_limits: false,
        ..Config::default()
    }
}

fn open(store: Store, clock: &ManualClock, vault: Option<Arc<TestVault>>) -> Streams {
    let s = Streams::open(config(), store, Arc::new(clock.clone())).unwrap();
    if let Some(v) = vault {
        assert!(s.set_key_vault(v));
    }
    s
}

fn ctx() -> Ctx {
    Ctx::in_region(REGION)
}

fn entry(pk: &str, data: &[u8]) -> PutEntry {
    PutEntry {
        data: Bytes::copy_from_slice(data),
        partition_key: pk.into(),
        explicit_hash_key: None,
    }
}

async fn create(s: &Streams, clock: &ManualClock, name: &str, shards: u32) {
    s.create_stream(&ctx(), CreateStream::provisioned(name, shards))
        .await
        .unwrap();
    clock.advance_ms(101);
}

async fn start(s: &Streams, clock: &ManualClock, name: &str, key: &str) {
    s.set_encryption(&ctx(), &StreamTarget::name(name), Some(key.into()))
        .await
        .unwrap();
    let d = s
        .describe_stream_summary(&ctx(), &StreamTarget::name(name))
        .await
        .unwrap();
    assert_eq!(d.status, StreamStatus::Updating);
    clock.advance_ms(101);
}

async fn iterator(s: &Streams, name: &str, shard: &str) -> String {
    s.get_shard_iterator(
        &ctx(),
        GetShardIterator::trim_horizon(StreamTarget::name(name), shard),
    )
    .await
    .unwrap()
}

async fn read_all(s: &Streams, name: &str, shard: &str) -> Result<Vec<Record>, KinesisError> {
    let mut it = iterator(s, name, shard).await;
    let mut out = Vec::new();
    loop {
        let r = s.get_records(&ctx(), &it, None, None).await?;
        let empty = r.records.is_empty();
        out.extend(r.records);
        match r.next_shard_iterator {
            Some(next) if !empty => it = next,
            _ => return Ok(out),
        }
    }
}

/// The raw entries of a shard's log, as the storage engine holds them.
async fn raw_entries(s: &Streams, name: &str, shard: u64) -> (LogId, Vec<Bytes>) {
    let log = {
        let h = s.get_handle(ACCOUNT, REGION, name).unwrap();
        let st = h.read().await;
        LogId(st.meta.shard(shard).unwrap().log)
    };
    let entries = s
        .store()
        .read(log, Offset(0), 10_000, usize::MAX)
        .await
        .unwrap();
    (log, entries.into_iter().map(|e| e.payload).collect())
}

async fn epochs(s: &Streams, name: &str) -> usize {
    let h = s.get_handle(ACCOUNT, REGION, name).unwrap();
    let st = h.read().await;
    st.meta.data_keys.len()
}

/// Every file under `dir`, recursively, searched for `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let bytes = std::fs::read(&p).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p);
                }
            }
        }
    }
    assert!(files > 0, "no files under {}", dir.display());
    hits
}

#[tokio::test]
async fn sealed_records_are_absent_from_disk_and_read_back_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let cfg = || StoreConfig {
        dir: Some(dir.path().to_path_buf()),
        direct_io: false,
        recent_bytes_max: 0,
        ..StoreConfig::default()
    };
    let data_marker = b"DATA-MARKER-7f3a9c";
    let key_marker = "PKEY-MARKER-51d0e2";
    let plain_marker = b"PLAIN-CONTROL-88aa";
    let t = StreamTarget::name("enc");
    {
        let s = open(Store::open(cfg()).unwrap(), &clock, Some(vault.clone()));
        create(&s, &clock, "enc", 1).await;
        // A control record before encryption, which must be found on disk (the scan works).
        s.put_record(&ctx(), &t, entry("plain", plain_marker))
            .await
            .unwrap();
        start(&s, &clock, "enc", CUSTOMER_KEY).await;
        let r = s
            .put_record(&ctx(), &t, entry(key_marker, data_marker))
            .await
            .unwrap();
        assert!(r.encrypted);
        let out = s
            .put_records(
                &ctx(),
                &t,
                (0..50).map(|_| entry(key_marker, data_marker)).collect(),
            )
            .await
            .unwrap();
        assert_eq!(out.failed_count, 0);
        assert!(out.encrypted);
        s.store().sync().await.unwrap();
        let records = read_all(&s, "enc", "shardId-000000000000").await.unwrap();
        assert_eq!(records.len(), 52);
        assert_eq!(&records[0].data[..], plain_marker);
        for r in &records[1..] {
            assert_eq!(
                (&r.data[..], r.partition_key.as_str()),
                (&data_marker[..], key_marker)
            );
        }
        assert_eq!(epochs(&s, "enc").await, 1);
    }
    assert!(!files_containing(dir.path(), plain_marker).is_empty());
    assert_eq!(
        files_containing(dir.path(), data_marker),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_containing(dir.path(), key_marker.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    // Restart: the records open with the key unwrapped from the metadata; the first put opens
    // a new epoch (no nonce counter restarts under the old key).
    let generated_before = vault.generated.load(std::sync::atomic::Ordering::Relaxed);
    let s = open(Store::open(cfg()).unwrap(), &clock, Some(vault.clone()));
    let records = read_all(&s, "enc", "shardId-000000000000").await.unwrap();
    assert_eq!(records.len(), 52);
    assert!(records[1..].iter().all(|r| &r.data[..] == data_marker));
    assert_eq!(
        vault.unwrapped.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // A second read takes the key from the cache.
    read_all(&s, "enc", "shardId-000000000000").await.unwrap();
    assert_eq!(
        vault.unwrapped.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    s.put_record(&ctx(), &t, entry(key_marker, data_marker))
        .await
        .unwrap();
    assert_eq!(epochs(&s, "enc").await, 2);
    assert_eq!(
        vault.generated.load(std::sync::atomic::Ordering::Relaxed),
        generated_before + 1
    );
    let (_, raw) = raw_entries(&s, "enc", 0).await;
    let epoch_of = |p: &Bytes| crate::seal::sealed_epoch(p);
    assert_eq!(epoch_of(&raw[0]), None);
    assert_eq!(epoch_of(&raw[1]), Some(0));
    assert_eq!(epoch_of(&raw[52]), Some(1));
    let records = read_all(&s, "enc", "shardId-000000000000").await.unwrap();
    assert_eq!(records.len(), 53);
    s.store().sync().await.unwrap();
    drop(s);
    assert_eq!(
        files_containing(dir.path(), data_marker),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test]
async fn a_disabled_key_refuses_puts_and_reads_of_sealed_records() {
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let s = open(
        Store::open(StoreConfig::default()).unwrap(),
        &clock,
        Some(vault.clone()),
    );
    create(&s, &clock, "d", 1).await;
    let t = StreamTarget::name("d");
    start(&s, &clock, "d", CUSTOMER_KEY).await;
    s.put_record(&ctx(), &t, entry("k", b"one")).await.unwrap();
    let it = iterator(&s, "d", "shardId-000000000000").await;
    vault.set_enabled(CUSTOMER_KEY, false);
    let disabled = KinesisError::KmsDisabled(format!("{} is disabled.", key_arn(CUSTOMER_KEY)));
    assert_eq!(
        s.put_record(&ctx(), &t, entry("k", b"two"))
            .await
            .unwrap_err(),
        disabled
    );
    assert_eq!(
        s.put_records(&ctx(), &t, vec![entry("k", b"two")])
            .await
            .unwrap_err(),
        disabled
    );
    assert_eq!(
        s.get_records(&ctx(), &it, None, None).await.unwrap_err(),
        disabled
    );
    vault.set_enabled(CUSTOMER_KEY, true);
    s.put_record(&ctx(), &t, entry("k", b"two")).await.unwrap();
    let r = s.get_records(&ctx(), &it, None, None).await.unwrap();
    let data: Vec<_> = r.records.iter().map(|r| r.data.clone()).collect();
    assert_eq!(data, [Bytes::from("one"), Bytes::from("two")]);
    assert!(r.encrypted);
}

#[tokio::test]
async fn a_shard_mixes_plain_and_sealed_records_across_start_and_stop() {
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let s = open(
        Store::open(StoreConfig::default()).unwrap(),
        &clock,
        Some(vault.clone()),
    );
    create(&s, &clock, "m", 1).await;
    let t = StreamTarget::name("m");
    s.put_record(&ctx(), &t, entry("a", b"plain-1"))
        .await
        .unwrap();
    start(&s, &clock, "m", "alias/aws/kinesis").await;
    s.put_record(&ctx(), &t, entry("b", b"sealed-1"))
        .await
        .unwrap();
    start(&s, &clock, "m", CUSTOMER_KEY).await;
    s.put_record(&ctx(), &t, entry("c", b"sealed-2"))
        .await
        .unwrap();
    s.set_encryption(&ctx(), &t, None).await.unwrap();
    let d = s.describe_stream_summary(&ctx(), &t).await.unwrap();
    assert_eq!((d.status, d.encryption_key), (StreamStatus::Updating, None));
    clock.advance_ms(101);
    let r = s
        .put_record(&ctx(), &t, entry("d", b"plain-2"))
        .await
        .unwrap();
    assert!(!r.encrypted);
    let (_, raw) = raw_entries(&s, "m", 0).await;
    let kinds: Vec<_> = raw.iter().map(|p| crate::seal::sealed_epoch(p)).collect();
    assert_eq!(kinds, [None, Some(0), Some(1), None]);
    // Every epoch opens with its own key, whichever key the stream uses now.
    let records = read_all(&s, "m", "shardId-000000000000").await.unwrap();
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.partition_key.clone(), r.data.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("a".to_string(), Bytes::from("plain-1")),
            ("b".to_string(), Bytes::from("sealed-1")),
            ("c".to_string(), Bytes::from("sealed-2")),
            ("d".to_string(), Bytes::from("plain-2")),
        ]
    );
    // The key of the records read is checked: disabling the customer key refuses a read that
    // meets its epoch, though the stream no longer encrypts.
    vault.set_enabled(CUSTOMER_KEY, false);
    assert!(matches!(
        read_all(&s, "m", "shardId-000000000000").await,
        Err(KinesisError::KmsDisabled(_))
    ));
}

#[tokio::test]
async fn a_sealed_entry_moved_to_another_shard_does_not_open() {
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let s = open(
        Store::open(StoreConfig::default()).unwrap(),
        &clock,
        Some(vault),
    );
    create(&s, &clock, "x", 2).await;
    let t = StreamTarget::name("x");
    start(&s, &clock, "x", CUSTOMER_KEY).await;
    let put = PutEntry {
        explicit_hash_key: Some("0".into()),
        ..entry("k", b"secret")
    };
    s.put_record(&ctx(), &t, put).await.unwrap();
    let (_, raw) = raw_entries(&s, "x", 0).await;
    let (other, _) = raw_entries(&s, "x", 1).await;
    let acks = s
        .store()
        .append_batches(vec![(other, T0, Batch::from_payloads(&raw))])
        .await;
    assert!(acks[0].is_ok());
    assert_eq!(
        read_all(&s, "x", "shardId-000000000000").await.unwrap()[0].data,
        Bytes::from("secret")
    );
    assert!(matches!(
        read_all(&s, "x", "shardId-000000000001").await,
        Err(KinesisError::Damaged(_))
    ));
}

#[tokio::test]
async fn start_refuses_unknown_disabled_and_malformed_keys_and_changes_nothing() {
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let s = open(
        Store::open(StoreConfig::default()).unwrap(),
        &clock,
        Some(vault.clone()),
    );
    create(&s, &clock, "k", 1).await;
    let t = StreamTarget::name("k");
    let unknown = "99999999-2222-3333-4444-555555555555";
    assert_eq!(
        s.set_encryption(&ctx(), &t, Some(unknown.into()))
            .await
            .unwrap_err(),
        KinesisError::KmsNotFound(format!("Key '{}' does not exist", key_arn(unknown)))
    );
    vault.set_enabled(CUSTOMER_KEY, false);
    assert!(matches!(
        s.set_encryption(&ctx(), &t, Some(CUSTOMER_KEY.into()))
            .await,
        Err(KinesisError::KmsDisabled(_))
    ));
    assert!(matches!(
        s.set_encryption(&ctx(), &t, Some("not a key".into())).await,
        Err(KinesisError::InvalidArgument(_))
    ));
    let d = s.describe_stream_summary(&ctx(), &t).await.unwrap();
    assert_eq!((d.status, d.encryption_key), (StreamStatus::Active, None));
    assert_eq!(epochs(&s, "k").await, 0);
    assert!(
        !s.put_record(&ctx(), &t, entry("k", b"x"))
            .await
            .unwrap()
            .encrypted
    );
}

#[tokio::test]
async fn without_a_vault_only_the_default_alias_is_accepted() {
    let clock = ManualClock::new(T0);
    let s = open(Store::open(StoreConfig::default()).unwrap(), &clock, None);
    create(&s, &clock, "n", 1).await;
    let t = StreamTarget::name("n");
    assert!(matches!(
        s.set_encryption(&ctx(), &t, Some(CUSTOMER_KEY.into()))
            .await,
        Err(KinesisError::KmsNotFound(_))
    ));
    start(&s, &clock, "n", "alias/aws/kinesis").await;
    let r = s.put_record(&ctx(), &t, entry("k", b"x")).await.unwrap();
    assert!(r.encrypted);
    let records = read_all(&s, "n", "shardId-000000000000").await.unwrap();
    assert_eq!(records[0].data, Bytes::from("x"));
}

#[tokio::test]
async fn subscribe_to_shard_opens_sealed_records() {
    let clock = ManualClock::new(T0);
    let vault = TestVault::new();
    let s = open(
        Store::open(StoreConfig::default()).unwrap(),
        &clock,
        Some(vault.clone()),
    );
    create(&s, &clock, "f", 1).await;
    let t = StreamTarget::name("f");
    start(&s, &clock, "f", CUSTOMER_KEY).await;
    s.put_record(&ctx(), &t, entry("k", b"fan-out"))
        .await
        .unwrap();
    // GetRecordsBounded is what a subscription's events are read with.
    let it = iterator(&s, "f", "shardId-000000000000").await;
    let r = s
        .get_records_bounded(&ctx(), &it, None, None, 1 << 20, false)
        .await
        .unwrap();
    assert_eq!(r.records[0].data, Bytes::from("fan-out"));
    vault.set_enabled(CUSTOMER_KEY, false);
    assert!(matches!(
        s.get_records_bounded(&ctx(), &it, None, None, 1 << 20, false)
            .await,
        Err(KinesisError::KmsDisabled(_))
    ));
}
