//! Encryption at rest: records of an encrypted stream are sealed with AES-256-GCM before they
//! reach the storage engine, which never learns of it.
//!
//! Keys come from a [`KeyVault`] (the server adapts the local KMS to it; this crate may not
//! depend on the KMS). Each stream *epoch* has its own data key: a new epoch starts at
//! StartStreamEncryption, at the first put after every server start, and before the nonce
//! counter reaches [`EPOCH_RECORDS_MAX`]. The wrapped data keys live in the stream's durable
//! metadata ([`crate::meta::DataKeyMeta`]); unwrapped keys only in memory, zeroized on drop.
//!
//! A sealed entry is `[version 2][epoch u32 BE][counter u64 BE][ciphertext][tag 16]`, where the
//! ciphertext is the plain entry's body (`[u16 BE partition-key length][partition key][data]`):
//! the partition key is record content and is sealed with the data. The nonce is the 12 bytes
//! after the version byte (epoch and counter); a counter is handed out once per epoch, and an
//! epoch's key is never used again after a restart, so no (key, nonce) pair repeats. The AAD
//! names the entry's place (stream region, name and creation time, shard, epoch), so a sealed
//! entry copied into another shard or stream does not open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use base64::Engine as _;

use crate::error::KinesisError;
use crate::meta::DataKeyMeta;
use crate::service::{Handle, StreamState, Streams};
use crate::types::Ctx;

/// Version byte of a sealed entry (plain entries are version 1).
pub(crate) const SEALED_VERSION: u8 = 2;
/// Version byte, epoch and counter.
pub(crate) const SEALED_HEADER_LEN: usize = 1 + 4 + 8;
pub(crate) const TAG_LEN: usize = 16;
/// Bytes sealing adds to a plain entry (whose own header is its version byte).
pub(crate) const SEALED_OVERHEAD: usize = SEALED_HEADER_LEN - 1 + TAG_LEN;
/// Records sealed under one data key before the next put opens a new epoch: far below where
/// the 64-bit counter could wrap, and below the 2^32 invocations NIST SP 800-38D allows a key.
pub const EPOCH_RECORDS_MAX: u64 = 1 << 32;

/// A fresh data key: its plaintext (for sealing now), the same key wrapped by the KMS (kept in
/// the stream's metadata), and the ARN of the KMS key that wrapped it.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub wrapped: Vec<u8>,
    pub key_arn: String,
}

/// Why the KMS refused; each message is the KMS's own text, which Kinesis passes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Throttling(String),
    /// The KMS failed (its storage): an internal failure of the request, text for the logs.
    #[error("{0}")]
    Internal(String),
}

impl From<KeyError> for KinesisError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Disabled(m) => KinesisError::KmsDisabled(m),
            KeyError::NotFound(m) => KinesisError::KmsNotFound(m),
            KeyError::InvalidState(m) => KinesisError::KmsInvalidState(m),
            KeyError::AccessDenied(m) => KinesisError::KmsAccessDenied(m),
            KeyError::Throttling(m) => KinesisError::KmsThrottling(m),
            KeyError::Internal(m) => {
                tracing::error!(error = %m, "the KMS failed");
                KinesisError::Internal("Internal service failure.".into())
            }
        }
    }
}

/// The KMS as the stream domain sees it.
pub trait KeyVault: Send + Sync + 'static {
    /// A fresh 256-bit data key under `key_id` (key id, key ARN, alias name or alias ARN) of this account/region.
    fn generate_data_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<DataKey, KeyError>;
    /// The plaintext of a wrapped data key (the KMS checks the key's state).
    fn decrypt_data_key(
        &self,
        account: &str,
        region: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, KeyError>;
    /// Whether the key can be used now; cheap (in-memory), called on the put and read paths of encrypted streams.
    fn key_usable(&self, account: &str, region: &str, key_id: &str) -> Result<(), KeyError>;
    /// Makes `key_id` ready for the synchronous calls above; StartStreamEncryption awaits it
    /// first. A KMS creates the AWS-managed key an `alias/aws/...` names on first use, which
    /// is a durable write. Nothing to do by default.
    fn prepare<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        key_id: &'a str,
    ) -> PrepareFuture<'a> {
        let _ = (account, region, key_id);
        Box::pin(async { Ok(()) })
    }
}

/// What [`KeyVault::prepare`] returns.
pub type PrepareFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), KeyError>> + Send + 'a>>;

/// Whether `key_id` has one of the forms AWS accepts for StartStreamEncryption's `KeyId`: a key
/// id (a GUID, or `mrk-` and hex for a multi-Region key), a key ARN, an alias name
/// (`alias/...`) or an alias ARN.
pub(crate) fn key_id_well_formed(key_id: &str) -> bool {
    fn guid(s: &str) -> bool {
        let groups: Vec<&str> = s.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
    }
    fn bare_key(s: &str) -> bool {
        guid(s)
            || s.strip_prefix("mrk-")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }
    fn alias(s: &str) -> bool {
        s.strip_prefix("alias/").is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        })
    }
    if let Some(rest) = key_id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        return match parts.as_slice() {
            [partition, "kms", region, account, resource] => {
                partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && (resource.strip_prefix("key/").is_some_and(bare_key) || alias(resource))
            }
            _ => false,
        };
    }
    bare_key(key_id) || alias(key_id)
}

/// The AWS-managed key Kinesis offers every account.
pub(crate) fn is_default_alias(key_id: &str) -> bool {
    key_id == "alias/aws/kinesis"
        || key_id
            .strip_prefix("arn:")
            .is_some_and(|rest| rest.ends_with(":alias/aws/kinesis") && rest.contains(":kms:"))
}

/// The epoch a put seals under: its cipher and the next unused nonce counter.
pub(crate) struct Sealer {
    pub epoch: u32,
    /// The stream's `KeyId` when this epoch opened (a StartStreamEncryption with another key
    /// opens another epoch).
    pub key_id: String,
    pub key_arn: String,
    cipher: Arc<Cipher>,
    next: AtomicU64,
}

impl Sealer {
    pub fn new(epoch: u32, key_id: String, key_arn: String, cipher: Arc<Cipher>) -> Self {
        Sealer {
            epoch,
            key_id,
            key_arn,
            cipher,
            next: AtomicU64::new(0),
        }
    }

    /// Whether this epoch should take `records` more (else the put opens a new epoch first).
    pub fn has_room(&self, records: usize) -> bool {
        self.next
            .load(Ordering::Relaxed)
            .saturating_add(records as u64)
            <= EPOCH_RECORDS_MAX
    }

    /// Reserves `records` consecutive nonce counters; one atomic add per request, no lock. The
    /// 64-bit counter cannot wrap (a put that finds it past [`EPOCH_RECORDS_MAX`] opens a new
    /// epoch first), so concurrent puts overshooting the soft limit still get unique nonces.
    pub fn reserve(&self, records: usize) -> u64 {
        self.next.fetch_add(records as u64, Ordering::Relaxed)
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }
}

/// AES-256-GCM under one data key, as ring implements it. Its assembly (AES-NI with CLMUL,
/// or VAES with VPCLMULQDQ, chosen at run time) seals a 1 KiB record in about 0.3 us, a third
/// of what RustCrypto's `aes-gcm` took (its one-block GHASH multiply alone cost more): the
/// difference between encrypted puts at ~0.7 and ~0.9 or more of plain ones (issue 14 asks
/// for 0.85; docs/design/security.md has the figures). The entry format is standard AES-GCM
/// (96-bit nonce, 128-bit tag), so entries sealed by either open with the other.
///
/// ring does not zeroize its expanded key schedule when the key drops; the data key's own
/// bytes are (the caller's `Zeroizing`). A stream's ciphers live as long as the stream is
/// loaded, so the schedule would be in memory for that long in any case.
pub(crate) struct Cipher(LessSafeKey);

/// Sealing or opening failed: a buffer of the wrong size, or (opening) bytes that do not
/// authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AES-GCM failed")]
pub(crate) struct SealError;

/// A cipher from a data key (`key` is zeroized by the caller's `Zeroizing`).
pub(crate) fn cipher_of(key: &Zeroizing<[u8; 32]>) -> crate::error::Result<Arc<Cipher>> {
    let key = UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| {
        // ring refuses only a key of the wrong length, which a [u8; 32] is not.
        tracing::error!("AES-256-GCM refused a 32-byte data key");
        KinesisError::Internal("Internal service failure.".into())
    })?;
    Ok(Arc::new(Cipher(LessSafeKey::new(key))))
}

/// The additional authenticated data of an entry of (`stream`, `shard`, `epoch`).
pub(crate) fn aad(stream: &StreamIdentity<'_>, shard: u64, epoch: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(48 + stream.region.len() + stream.name.len());
    v.extend_from_slice(b"rheo/kinesis/record/v2\0");
    v.extend_from_slice(stream.region.as_bytes());
    v.push(0);
    v.extend_from_slice(stream.name.as_bytes());
    v.push(0);
    v.extend_from_slice(&stream.created_ms.to_be_bytes());
    v.extend_from_slice(&shard.to_be_bytes());
    v.extend_from_slice(&epoch.to_be_bytes());
    v
}

/// What names a stream for the AAD: a stream deleted and created again under its name has
/// another creation time.
pub(crate) struct StreamIdentity<'a> {
    pub region: &'a str,
    pub name: &'a str,
    pub created_ms: i64,
}

fn nonce_bytes(epoch: u32, counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&epoch.to_be_bytes());
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// Where a sealed entry is written: a log batch's entry, or (tests) a plain buffer.
pub(crate) trait EntryOut {
    fn put(&mut self, bytes: &[u8]);
    /// Bytes written so far.
    fn written(&self) -> usize;
    /// The bytes written from `from` on, to encrypt in place.
    fn written_mut(&mut self, from: usize) -> &mut [u8];
}

impl EntryOut for rheo_log::EntryWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        rheo_log::EntryWriter::put(self, bytes);
    }
    fn written(&self) -> usize {
        self.len()
    }
    fn written_mut(&mut self, from: usize) -> &mut [u8] {
        rheo_log::EntryWriter::written_mut(self, from)
    }
}

impl EntryOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn written(&self) -> usize {
        self.len()
    }
    fn written_mut(&mut self, from: usize) -> &mut [u8] {
        let at = from.min(self.len());
        self.get_mut(at..).unwrap_or_default()
    }
}

/// Appends the sealed entry of (`partition_key`, `data`) to `out`: the plaintext is laid out
/// once, as for a plain entry, and encrypted where it lies, so sealing costs no copy and no
/// zero-filling beyond what a plain entry takes.
pub(crate) fn write_sealed(
    out: &mut impl EntryOut,
    cipher: &Cipher,
    epoch: u32,
    counter: u64,
    aad: &[u8],
    partition_key: &[u8],
    data: &[u8],
) -> Result<(), SealError> {
    let nonce = nonce_bytes(epoch, counter);
    out.put(&[SEALED_VERSION]);
    out.put(&nonce);
    let body_at = out.written();
    let pk_len = partition_key.len().min(u16::MAX as usize);
    out.put(&(pk_len as u16).to_be_bytes());
    out.put(partition_key.get(..pk_len).unwrap_or_default());
    out.put(data);
    let tag = cipher
        .0
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            out.written_mut(body_at),
        )
        .map_err(|_| SealError)?;
    out.put(tag.as_ref());
    Ok(())
}

/// Bytes of the sealed entry of a record with `pk_len` bytes of partition key and `data_len` of data.
#[cfg(test)]
pub(crate) fn sealed_len(pk_len: usize, data_len: usize) -> usize {
    SEALED_HEADER_LEN + 2 + pk_len + data_len + TAG_LEN
}

/// The epoch of a sealed entry, if `payload` is one.
pub(crate) fn sealed_epoch(payload: &[u8]) -> Option<u32> {
    if *payload.first()? != SEALED_VERSION {
        return None;
    }
    Some(u32::from_be_bytes(payload.get(1..5)?.try_into().ok()?))
}

/// Opens a sealed entry: (partition key, data), or `None` when it is malformed or does not
/// authenticate under `cipher` and `aad` (another key, another place, altered bytes).
pub(crate) fn open(payload: &Bytes, cipher: &Cipher, aad: &[u8]) -> Option<(String, Bytes)> {
    if payload.len() < SEALED_HEADER_LEN + 2 + TAG_LEN || *payload.first()? != SEALED_VERSION {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(payload.get(1..SEALED_HEADER_LEN)?).ok()?;
    let tag_at = payload.len() - TAG_LEN;
    let tag = Tag::try_from(payload.get(tag_at..)?).ok()?;
    // The one copy a read takes: the stored bytes are shared (a read buffer), the plaintext
    // is the record's own.
    let mut body = payload.get(SEALED_HEADER_LEN..tag_at)?.to_vec();
    cipher
        .0
        .open_in_place_separate_tag(nonce, Aad::from(aad), tag, &mut body, 0..)
        .ok()?;
    let len_bytes: [u8; 2] = body.get(..2)?.try_into().ok()?;
    let pk_end = 2 + usize::from(u16::from_be_bytes(len_bytes));
    let pk = std::str::from_utf8(body.get(2..pk_end)?).ok()?.to_string();
    let body = Bytes::from(body);
    Some((pk, body.slice(pk_end..)))
}

/// Unwrapped data keys of a stream's epochs, for the read path (filled on first use).
#[derive(Default)]
pub(crate) struct KeyCache {
    ciphers: parking_lot::Mutex<HashMap<u32, Arc<Cipher>>>,
}

impl KeyCache {
    pub fn get(&self, epoch: u32) -> Option<Arc<Cipher>> {
        self.ciphers.lock().get(&epoch).cloned()
    }

    pub fn insert(&self, epoch: u32, cipher: Arc<Cipher>) {
        self.ciphers.lock().insert(epoch, cipher);
    }
}

/// A new epoch's pieces, installed only once its wrapped key is durable.
pub(crate) struct NewEpoch {
    pub meta: DataKeyMeta,
    pub sealer: Arc<Sealer>,
}

impl Streams {
    /// Asks the vault for a new epoch's data key under `key_id` (KMS* errors when the key
    /// cannot be used). Changes nothing: the caller persists `meta` first, then installs it
    /// with [`Streams::install_epoch`], so no record is ever sealed under a key the metadata
    /// does not hold.
    pub(crate) fn new_epoch(
        &self,
        ctx: &Ctx,
        state: &StreamState,
        vault: &dyn KeyVault,
        key_id: &str,
    ) -> crate::error::Result<NewEpoch> {
        let epoch = state
            .meta
            .data_keys
            .iter()
            .map(|k| k.epoch.saturating_add(1))
            .max()
            .unwrap_or(0);
        let key = vault.generate_data_key(ctx.account(), &ctx.region, key_id)?;
        let cipher = cipher_of(&key.plaintext)?;
        Ok(NewEpoch {
            meta: DataKeyMeta {
                epoch,
                key_arn: key.key_arn.clone(),
                wrapped: base64::engine::general_purpose::STANDARD.encode(&key.wrapped),
            },
            sealer: Arc::new(Sealer::new(epoch, key_id.to_string(), key.key_arn, cipher)),
        })
    }

    pub(crate) fn install_epoch(state: &mut StreamState, epoch: NewEpoch) {
        state
            .keys
            .insert(epoch.sealer.epoch, epoch.sealer.cipher.clone());
        state.sealer = Some(epoch.sealer);
    }

    /// Opens a new epoch for the stream's current key unless another request just did (the
    /// first put after a restart, a key change, or a counter near its limit).
    pub(crate) async fn refresh_epoch(
        &self,
        ctx: &Ctx,
        handle: &Handle,
        records: usize,
    ) -> crate::error::Result<()> {
        let Some(vault) = self.vault() else {
            return Ok(());
        };
        let mut state = handle.write().await;
        let Some(key_id) = state.meta.encryption_key.clone() else {
            return Ok(());
        };
        if state
            .sealer
            .as_ref()
            .is_some_and(|s| s.key_id == key_id && s.has_room(records))
        {
            return Ok(());
        }
        let epoch = self.new_epoch(ctx, &state, vault.as_ref(), &key_id)?;
        state.meta.data_keys.push(epoch.meta.clone());
        if let Err(e) = self.persist(&state.meta) {
            state.meta.data_keys.pop();
            return Err(e);
        }
        tracing::info!(
            stream = %state.meta.name,
            epoch = epoch.sealer.epoch,
            "opened an encryption epoch"
        );
        Self::install_epoch(&mut state, epoch);
        Ok(())
    }

    /// Ciphers for the sealed `epochs` of a read, each key checked usable now (as AWS checks
    /// the key on every GetRecords of encrypted records), unwrapped keys cached.
    pub(crate) async fn read_ciphers(
        &self,
        ctx: &Ctx,
        handle: &Handle,
        epochs: &[u32],
    ) -> crate::error::Result<HashMap<u32, Arc<Cipher>>> {
        let Some(vault) = self.vault() else {
            tracing::error!("sealed records but no key vault configured");
            return Err(KinesisError::Internal("Internal service failure.".into()));
        };
        let state = handle.read().await;
        let mut out = HashMap::with_capacity(epochs.len());
        for &epoch in epochs {
            let Some(meta) = state.meta.data_keys.iter().find(|k| k.epoch == epoch) else {
                tracing::error!(
                    epoch,
                    "sealed records of an epoch the metadata has no key for"
                );
                return Err(KinesisError::Internal("Internal service failure.".into()));
            };
            vault.key_usable(ctx.account(), &ctx.region, &meta.key_arn)?;
            let cipher = match state.keys.get(epoch) {
                Some(c) => c,
                None => {
                    let wrapped = base64::engine::general_purpose::STANDARD
                        .decode(&meta.wrapped)
                        .map_err(|e| {
                            tracing::error!(epoch, error = %e, "wrapped data key is not base64");
                            KinesisError::Internal("Internal service failure.".into())
                        })?;
                    let key = vault.decrypt_data_key(ctx.account(), &ctx.region, &wrapped)?;
                    let c = cipher_of(&key)?;
                    state.keys.insert(epoch, c.clone());
                    c
                }
            };
            out.insert(epoch, cipher);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher(byte: u8) -> Arc<Cipher> {
        cipher_of(&Zeroizing::new([byte; 32])).unwrap()
    }

    fn ident() -> StreamIdentity<'static> {
        StreamIdentity {
            region: "us-east-1",
            name: "s",
            created_ms: 7,
        }
    }

    fn sealed(c: &Cipher, aad: &[u8], counter: u64, pk: &str, data: &[u8]) -> Bytes {
        let mut out = Vec::new();
        write_sealed(&mut out, c, 3, counter, aad, pk.as_bytes(), data).unwrap();
        assert_eq!(out.len(), sealed_len(pk.len(), data.len()));
        Bytes::from(out)
    }

    proptest! {
        #[test]
        fn sealed_entries_round_trip(pk in "\\PC{1,256}", data in proptest::collection::vec(any::<u8>(), 0..2048), counter in any::<u64>()) {
            let c = cipher(1);
            let a = aad(&ident(), 4, 3);
            let e = sealed(&c, &a, counter, &pk, &data);
            prop_assert_eq!(sealed_epoch(&e), Some(3));
            let (p, d) = open(&e, &c, &a).unwrap();
            prop_assert_eq!(p, pk);
            prop_assert_eq!(&d[..], &data[..]);
        }

        #[test]
        fn open_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = open(&Bytes::from(raw), &cipher(1), b"x");
        }
    }

    /// The entry format is standard AES-256-GCM: what ring seals, RustCrypto's aes-gcm (which
    /// sealed entries before ring did) opens, and the other way round, so entries written by
    /// either build read back under the other.
    #[test]
    fn entries_are_standard_aes_gcm_both_ways() {
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let key = [5u8; 32];
        let ours = cipher_of(&Zeroizing::new(key)).unwrap();
        let theirs = aes_gcm::Aes256Gcm::new(&key.into());
        let a = aad(&ident(), 2, 3);
        let e = sealed(&ours, &a, 77, "pk", b"some data");
        let tag_at = e.len() - TAG_LEN;
        let mut body = e[SEALED_HEADER_LEN..tag_at].to_vec();
        theirs
            .decrypt_in_place_detached(
                aes_gcm::Nonce::from_slice(&e[1..SEALED_HEADER_LEN]),
                &a,
                &mut body,
                aes_gcm::Tag::from_slice(&e[tag_at..]),
            )
            .unwrap();
        assert_eq!(&body[..], b"\x00\x02pksome data");
        // An entry as aes-gcm sealed it opens here.
        let nonce = nonce_bytes(3, 78);
        let mut body = b"\x00\x01kother".to_vec();
        let tag = theirs
            .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &a, &mut body)
            .unwrap();
        let mut entry = vec![SEALED_VERSION];
        entry.extend_from_slice(&nonce);
        entry.extend_from_slice(&body);
        entry.extend_from_slice(&tag);
        let (pk, data) = open(&Bytes::from(entry), &ours, &a).unwrap();
        assert_eq!((pk.as_str(), &data[..]), ("k", &b"other"[..]));
    }

    #[test]
    fn neither_the_data_nor_the_partition_key_is_in_the_sealed_bytes() {
        let c = cipher(1);
        let a = aad(&ident(), 0, 3);
        let e = sealed(&c, &a, 0, "partition-marker", b"data-marker-data-marker");
        let has = |needle: &[u8]| e.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"partition-marker"));
        assert!(!has(b"data-marker"));
    }

    #[test]
    fn another_place_key_or_altered_byte_is_refused() {
        let c = cipher(1);
        let a = aad(&ident(), 0, 3);
        let e = sealed(&c, &a, 9, "k", b"payload");
        assert!(open(&e, &c, &a).is_some());
        // Another shard, epoch or stream incarnation.
        assert!(open(&e, &c, &aad(&ident(), 1, 3)).is_none());
        assert!(open(&e, &c, &aad(&ident(), 0, 4)).is_none());
        let other = StreamIdentity {
            created_ms: 8,
            ..ident()
        };
        assert!(open(&e, &c, &aad(&other, 0, 3)).is_none());
        // Another key.
        assert!(open(&e, &cipher(2), &a).is_none());
        // Any altered byte, header included.
        for i in 1..e.len() {
            let mut v = e.to_vec();
            v[i] ^= 0x40;
            assert!(open(&Bytes::from(v), &c, &a).is_none(), "byte {i}");
        }
    }

    #[test]
    fn counters_give_distinct_nonces() {
        let s = Sealer::new(0, "k".into(), "arn".into(), cipher(1));
        assert_eq!(s.reserve(3), 0);
        assert_eq!(s.reserve(1), 3);
        assert!(s.has_room(10));
        let full = Sealer::new(0, "k".into(), "arn".into(), cipher(1));
        full.reserve(EPOCH_RECORDS_MAX as usize);
        assert!(!full.has_room(1));
        assert_ne!(nonce_bytes(0, 1), nonce_bytes(1, 0));
    }

    #[test]
    fn key_id_forms() {
        for ok in [
            "alias/aws/kinesis",
            "alias/my-key_1",
            "12345678-1234-1234-1234-123456789012",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
            "arn:aws:kms:us-east-1:123456789012:alias/MyAliasName",
        ] {
            assert!(key_id_well_formed(ok), "{ok}");
        }
        for bad in [
            "",
            "alias/",
            "my-key",
            "1234",
            "arn:aws:kms:us-east-1:1234:key/12345678-1234-1234-1234-123456789012",
            "arn:aws:s3:us-east-1:123456789012:key/x",
        ] {
            assert!(!key_id_well_formed(bad), "{bad}");
        }
        assert!(is_default_alias("alias/aws/kinesis"));
        assert!(is_default_alias(
            "arn:aws:kms:us-east-1:123456789012:alias/aws/kinesis"
        ));
        assert!(!is_default_alias("alias/aws/kinesisx"));
    }
}
