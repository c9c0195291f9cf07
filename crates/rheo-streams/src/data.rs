//! The data path: PutRecord(s), GetShardIterator, GetRecords.
//!
//! A record is stored in its shard's log as one entry: `[version 1][u16 BE partition-key
//! length][partition key][data]`, or, on an encrypted stream, sealed as version 2 (`seal.rs`:
//! the same body under AES-256-GCM). The log gives the offset and arrival timestamp; the
//! sequence number is derived from (shard index, offset) and never stored.

use bytes::Bytes;
use rheo_log::{Batch, EntryWriter, LogId, Offset};

use crate::error::{KinesisError, Result};
use crate::hash::{parse_hash_key, partition_key_hash};
use crate::iterator::ShardIterator;
use crate::limits::{
    GET_RECORDS_BYTES_MAX, GET_RECORDS_LIMIT_MAX, ITERATOR_AGE_MS_MAX, PUT_RECORDS_BYTES_MAX,
    PUT_RECORDS_LARGE_BYTES_MAX, RECORD_SIZE_KIB_DEFAULT,
};
use crate::messages;
use crate::meta::{parse_shard_id, shard_id, RecordDistribution, StreamStatus};
use crate::sequence::SequenceNumber;
use crate::service::{StreamState, Streams};
use crate::throttle::WriteShare;
use crate::types::*;

const ENTRY_VERSION: u8 = 1;
const ITERATOR_ARGS_HINT: &str = "Must either specify (1) AT_SEQUENCE_NUMBER or \
     AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no \
     StartingSequenceNumber.";
/// Longest a GetRecords waits for records that were put and are still being made durable.
///
/// A consumer at the tip that arrives while the next records are being written would
/// otherwise answer empty, sleep and poll again; waiting for the write hands them over the
/// moment they are durable. Only records already accepted are waited for, never future puts,
/// so an idle shard still answers at once. The cap bounds the wait when the disk stalls.
pub const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Bytes [`write_entry`] adds to a record's partition key and data: the version byte and the
/// key's 16-bit length.
const ENTRY_HEADER_LEN: usize = 3;

fn write_entry(w: &mut EntryWriter<'_>, partition_key: &str, data: &[u8]) {
    let pk = partition_key.as_bytes();
    w.put_u8(ENTRY_VERSION);
    // Partition keys are at most 256 characters (1 KiB of UTF-8), validated before this
    // (`limits` checks that this fits the 16-bit length).
    w.put(&(pk.len().min(u16::MAX as usize) as u16).to_be_bytes());
    w.put(pk);
    w.put(data);
}

/// The entry layout written independently of [`write_entry`], for tests of the decoder.
#[cfg(test)]
pub(crate) fn encode_entry(partition_key: &str, data: &[u8]) -> Bytes {
    let mut v = vec![ENTRY_VERSION];
    v.extend_from_slice(&(partition_key.len() as u16).to_be_bytes());
    v.extend_from_slice(partition_key.as_bytes());
    v.extend_from_slice(data);
    Bytes::from(v)
}

pub(crate) fn decode_entry(payload: &Bytes) -> Option<(String, Bytes)> {
    let version = *payload.first()?;
    if version != ENTRY_VERSION {
        return None;
    }
    let len_bytes: [u8; 2] = payload.get(1..3)?.try_into().ok()?;
    let pk_end = 3 + usize::from(u16::from_be_bytes(len_bytes));
    let pk = std::str::from_utf8(payload.get(3..pk_end)?)
        .ok()?
        .to_string();
    Some((pk, payload.slice(pk_end..)))
}

/// Adds one put's outcome to the stream's and its shards' metrics: records and bytes the journal
/// accepted (`positions[k]` are the indexes of the records in `acks[k]`), and those refused for
/// throttling (`refused[i]`: the shard that refused record i).
fn record_put_metrics(
    state: &StreamState,
    entries: &[PutRecordRef<'_>],
    positions: &[(u64, Vec<u32>)],
    acks: &[std::result::Result<rheo_log::AppendAck, rheo_log::AppendError>],
    refused: &[Option<u64>],
    single: bool,
) {
    let m = &state.metrics;
    let size = |i: &u32| {
        entries
            .get(*i as usize)
            .map_or(0, |e| (e.data.len() + e.partition_key.len()) as u64)
    };
    let (mut records, mut bytes, mut failed) = (0u64, 0u64, 0u64);
    for ((shard, idx), ack) in positions.iter().zip(acks) {
        if ack.is_err() {
            failed += idx.len() as u64;
            continue;
        }
        let n = idx.len() as u64;
        let b: u64 = idx.iter().map(size).sum();
        records += n;
        bytes += b;
        if let Some(s) = state.shard_metrics.get(shard) {
            s.incoming_records.add(n);
            s.incoming_bytes.add(b);
        }
    }
    let mut throttled = 0u64;
    for shard in refused.iter().flatten() {
        throttled += 1;
        if let Some(s) = state.shard_metrics.get(shard) {
            s.write_throttled.add(1);
        }
    }
    m.incoming_records.add(records);
    m.incoming_bytes.add(bytes);
    m.write_throttled.add(throttled);
    if single {
        m.put_record_bytes.add(bytes);
    } else {
        m.put_records_bytes.add(bytes);
        m.put_records_total.add(entries.len() as u64);
        m.put_records_successful.add(records);
        m.put_records_failed.add(failed);
        m.put_records_throttled.add(throttled);
    }
}

fn ensure_writable(state: &StreamState, name: &str, account: &str) -> Result<()> {
    match state.meta.status {
        StreamStatus::Active | StreamStatus::Updating if !state.gone => Ok(()),
        _ => Err(messages::stream_not_found(name, account)),
    }
}

impl Streams {
    pub async fn put_record(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        entry: PutEntry,
    ) -> Result<PutResult> {
        let out = self.put(ctx, target, &[entry.as_record()], true).await?;
        match out.records.into_iter().next() {
            Some(PutRecordsEntry::Ok(r)) => Ok(r),
            Some(PutRecordsEntry::Failed { message, .. }) => Err(KinesisError::Internal(message)),
            None => Err(KinesisError::Internal("no result".into())),
        }
    }

    /// PutRecord's `SequenceNumberForOrdering` must be a sequence number of ours (records of a
    /// shard are ordered by arrival anyway, so a valid one needs no further action).
    pub async fn check_sequence_for_ordering(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        sequence_number: &str,
    ) -> Result<()> {
        let acting = crate::service::reach(ctx, target.arn.as_deref());
        let ctx = &*acting;
        let (name, handle) = self.lookup(ctx, target).await?;
        // AWS: "PutRecord requests that include this field are rejected" on a stream with
        // service-managed distribution, where ordering does not apply.
        if handle.read().await.meta.record_distribution == RecordDistribution::Auto {
            return Err(messages::ordering_with_auto(&name, ctx.account()));
        }
        SequenceNumber::parse_position(sequence_number)
            .map(|_| ())
            .map_err(|_| {
                KinesisError::InvalidArgument(format!(
                    "ExclusiveMinimumSequenceNumber {sequence_number} used in PutRecord on stream \
                 {name} under account {} is invalid.",
                    ctx.account()
                ))
            })
    }

    pub async fn put_records(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        entries: Vec<PutEntry>,
    ) -> Result<PutRecordsOutput> {
        let refs: Vec<PutRecordRef<'_>> = entries.iter().map(PutEntry::as_record).collect();
        self.put(ctx, target, &refs, false).await
    }

    /// PutRecords with borrowed records: what the wire layer's fast path calls, so no record is
    /// copied before it is written into its shard's log batch.
    pub async fn put_record_refs(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        entries: &[PutRecordRef<'_>],
    ) -> Result<PutRecordsOutput> {
        self.put(ctx, target, entries, false).await
    }

    async fn put(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        entries: &[PutRecordRef<'_>],
        single: bool,
    ) -> Result<PutRecordsOutput> {
        let started = std::time::Instant::now();
        // Shared across accounts when the stream's owner granted it (`service::reach`): the
        // put, its key and its answer are then the owner's stream's.
        let acting = crate::service::reach(ctx, target.arn.as_deref());
        let ctx = &*acting;
        let (name, handle) = self.lookup(ctx, target).await?;
        // An encrypted stream's put needs a usable key (checked on every request, as AWS does)
        // and an epoch with room; opening one takes the stream's write lock, so it is done
        // with the read lock released, and the state looked at again.
        let (state, seal) = loop {
            let state = handle.read().await;
            ensure_writable(&state, &name, ctx.account())?;
            let (Some(key_id), Some(vault)) = (&state.meta.encryption_key, self.vault()) else {
                break (state, None);
            };
            match &state.sealer {
                Some(s) if s.key_id == *key_id && s.has_room(entries.len()) => {
                    vault.key_usable(ctx.account(), &ctx.region, &s.key_arn)?;
                    let s = s.clone();
                    break (state, Some(s));
                }
                _ => {
                    drop(state);
                    self.refresh_epoch(ctx, &handle, entries.len()).await?;
                }
            }
        };
        // Times the call and counts its Success once the stream is known (CloudWatch publishes
        // nothing for a stream that does not exist). An `Arc` clone: no lock, no allocation.
        let metrics = state.metrics.clone();
        let op = if single {
            &metrics.put_record
        } else {
            &metrics.put_records
        };
        let mut timer = crate::metrics::OpTimer::start(op, started);
        let record_max = state.meta.max_record_size_kib as usize * 1024;
        let auto = state.meta.record_distribution == RecordDistribution::Auto;
        // The request-size check comes before any per-record one, as in AWS.
        let total: usize = entries
            .iter()
            .map(|e| e.data.len() + e.partition_key.len())
            .sum();
        // A stream whose record size was raised takes PutRecords up to 10 MiB, as AWS documents
        // since larger records; one at the default keeps the 5 MiB its answers have always said.
        let request_max = if state.meta.max_record_size_kib > RECORD_SIZE_KIB_DEFAULT {
            PUT_RECORDS_LARGE_BYTES_MAX
        } else {
            PUT_RECORDS_BYTES_MAX
        };
        if !single && total > request_max {
            return Err(KinesisError::InvalidArgument(format!(
                "Records size exceeds {} MB limit",
                request_max / (1024 * 1024)
            )));
        }
        // Route every record first: a bad hash key or size fails the whole request, as in AWS.
        // Routing also sizes each shard's frame buffer exactly, so that writing each record's
        // entry into it (once, in the second pass) never reallocates and copies the buffer.
        let mut slots: Vec<(u64, LogId, usize, usize)> = Vec::new(); // shard, log, entries, bytes
        let mut slot_of = Vec::with_capacity(entries.len());
        for e in entries {
            let size = e.data.len() + e.partition_key.len();
            if size > record_max {
                return Err(KinesisError::InvalidArgument(format!(
                    "Record size exceeds the maximum allowed record size of {} KiB for stream {name}.",
                    state.meta.max_record_size_kib
                )));
            }
            // AUTO ignores the partition key and the explicit hash key (AWS: both "ignored for
            // shard placement") and spreads records over the open shards.
            let route = if auto {
                state.spread_route()
            } else {
                let key = match e.explicit_hash_key {
                    Some(text) => parse_hash_key(text)
                        .ok_or_else(|| messages::invalid_explicit_hash_key(text))?,
                    None => partition_key_hash(e.partition_key),
                };
                state.route(key)
            }
            .ok_or_else(|| KinesisError::Internal("no open shard owns the hash key".into()))?;
            let at = match slots.iter().position(|b| b.0 == route.shard_index) {
                Some(at) => at,
                None => {
                    slots.push((route.shard_index, route.log, 0, 0));
                    slots.len() - 1
                }
            };
            if let Some(slot) = slots.get_mut(at) {
                slot.2 += 1;
                slot.3 += ENTRY_HEADER_LEN + size;
            }
            slot_of.push(at);
        }
        // Throughput limits: each record takes its shard's budget in request order; a refused
        // record is answered ProvisionedThroughputExceeded and written nowhere.
        let now = self.now_ms();
        // `refused[i]`: the shard that refused record i (empty: none was).
        let mut refused: Vec<Option<u64>> = Vec::new();
        if self.inner.config.throughput_limits {
            let shares: Vec<WriteShare> = slots
                .iter()
                .map(|&(shard, _, records, bytes)| WriteShare {
                    shard,
                    records,
                    bytes: bytes - records * ENTRY_HEADER_LEN,
                })
                .collect();
            let sizes = entries
                .iter()
                .zip(&slot_of)
                .map(|(e, at)| (*at, e.data.len() + e.partition_key.len()));
            refused = state.throttle.admit_writes(&shares, sizes, now);
            for ((e, at), _) in entries
                .iter()
                .zip(&slot_of)
                .zip(&refused)
                .filter(|(_, r)| r.is_some())
            {
                if let Some(slot) = slots.get_mut(*at) {
                    slot.2 -= 1;
                    slot.3 -= ENTRY_HEADER_LEN + e.data.len() + e.partition_key.len();
                }
            }
            if let (true, Some(Some(shard))) = (single, refused.first()) {
                metrics.write_throttled.add(1);
                if let Some(m) = state.shard_metrics.get(shard) {
                    m.write_throttled.add(1);
                }
                return Err(KinesisError::ProvisionedThroughputExceeded(
                    messages::write_rate_exceeded(&shard_id(*shard), &name, ctx.account()),
                ));
            }
        }
        crate::autoscale::record_put(&state, &slots, &refused, ENTRY_HEADER_LEN);
        let overhead = if seal.is_some() {
            crate::seal::SEALED_OVERHEAD
        } else {
            0
        };
        let mut batches: Vec<(u64, LogId, Batch, Vec<u32>)> = slots
            .into_iter()
            .map(|(shard, log, n, bytes)| {
                (
                    shard,
                    log,
                    Batch::with_capacity_for(n, bytes + n * overhead),
                    Vec::with_capacity(n),
                )
            })
            .collect();
        // Sealing: one reservation of nonce counters for the whole request, and each entry
        // encrypted in place in its batch's buffer (no lock, no extra copy per record).
        let sealing = seal.as_ref().map(|s| {
            let accepted = entries.len() - refused.iter().filter(|r| r.is_some()).count();
            let identity = crate::seal::StreamIdentity {
                region: &state.meta.region,
                name: &state.meta.name,
                created_ms: state.meta.created_ms,
            };
            let aads: Vec<Vec<u8>> = batches
                .iter()
                .map(|b| crate::seal::aad(&identity, b.0, s.epoch))
                .collect();
            (s, s.reserve(accepted), aads)
        });
        let mut sealed = 0u64;
        let mut seal_failed = false;
        for (i, (e, at)) in entries.iter().zip(slot_of.iter().copied()).enumerate() {
            if refused.get(i).is_some_and(Option::is_some) {
                continue;
            }
            if let Some(b) = batches.get_mut(at) {
                match &sealing {
                    None => b.2.push_with(|w| write_entry(w, e.partition_key, e.data)),
                    Some((s, first, aads)) => {
                        let counter = first + sealed;
                        sealed += 1;
                        let aad = aads.get(at).map(Vec::as_slice).unwrap_or_default();
                        b.2.push_with(|w| {
                            seal_failed |= crate::seal::write_sealed(
                                w,
                                s.cipher(),
                                s.epoch,
                                counter,
                                aad,
                                e.partition_key.as_bytes(),
                                e.data,
                            )
                            .is_err();
                        });
                    }
                }
                b.3.push(i as u32);
            }
        }
        // A failed seal may have left its plaintext in a batch: no batch is written then.
        if seal_failed {
            tracing::error!(stream = %name, "a record could not be sealed");
            return Err(KinesisError::Internal("Internal service failure.".into()));
        }
        batches.retain(|b| !b.3.is_empty());
        let mut positions = Vec::with_capacity(batches.len());
        let mut requests = Vec::with_capacity(batches.len());
        for (shard, log, batch, idx) in batches {
            positions.push((shard, idx));
            requests.push((log, now, batch));
        }
        let acks = self.inner.store.append_batches(requests).await;
        let encrypted = state.meta.encryption_key.is_some();
        record_put_metrics(&state, entries, &positions, &acks, &refused, single);
        drop(state);
        let mut records: Vec<Option<PutRecordsEntry>> = vec![None; entries.len()];
        let mut failed = 0u32;
        for (slot, shard) in records.iter_mut().zip(&refused) {
            if let Some(shard) = shard {
                failed += 1;
                *slot = Some(PutRecordsEntry::Failed {
                    code: "ProvisionedThroughputExceededException".into(),
                    message: messages::write_rate_exceeded(&shard_id(*shard), &name, ctx.account()),
                });
            }
        }
        for ((shard, idx), ack) in positions.into_iter().zip(acks) {
            for (k, i) in idx.into_iter().enumerate() {
                let entry = match &ack {
                    Ok(a) => PutRecordsEntry::Ok(PutResult {
                        sequence: SequenceNumber::new(shard, Offset(a.first.0 + k as u64)),
                        encrypted,
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "append failed");
                        failed += 1;
                        PutRecordsEntry::Failed {
                            code: "InternalFailure".into(),
                            message: "Internal service failure.".into(),
                        }
                    }
                };
                if let Some(slot) = records.get_mut(i as usize) {
                    *slot = Some(entry);
                }
            }
        }
        if single && failed > 0 {
            return Err(KinesisError::Internal("Internal service failure.".into()));
        }
        timer.succeeded();
        Ok(PutRecordsOutput {
            failed_count: failed,
            records: records
                .into_iter()
                .map(|r| {
                    r.unwrap_or(PutRecordsEntry::Failed {
                        code: "InternalFailure".into(),
                        message: "Internal service failure.".into(),
                    })
                })
                .collect(),
            encrypted,
        })
    }

    pub async fn get_shard_iterator(&self, ctx: &Ctx, req: GetShardIterator) -> Result<String> {
        let acting = crate::service::reach(ctx, req.target.arn.as_deref());
        let ctx = &*acting;
        let name = self.target_name(ctx, &req.target)?;
        let account = ctx.account().to_string();
        let index = parse_shard_id(&req.shard_id)
            .filter(|i| *i <= i32::MAX as u64)
            .ok_or_else(|| messages::could_not_find_shard(&req.shard_id, &name, &account))?;
        let missing = || messages::shard_not_found(&shard_id(index), &name, &account);
        let handle = self
            .lookup_name(&ctx.region, ctx.account(), &name)
            .await
            // A stream isolated for damaged metadata says so rather than "no such shard".
            .map_err(|e| match e {
                KinesisError::ResourceInUse(_) => e,
                _ => missing(),
            })?;
        let state = handle.read().await;
        let shard = state
            .meta
            .shard(index)
            .filter(|s| {
                self.visible_shards(&state.meta)
                    .iter()
                    .any(|v| v.index == s.index)
            })
            .ok_or_else(missing)?;
        let log = LogId(shard.log);
        let shard_index = shard.index;
        let created_ms = state.meta.created_ms;
        // Released before an AT_TIMESTAMP seek, which may pread the disk.
        drop(state);
        let bounds = self.inner.store.bounds(log)?;
        let kind = req.kind;
        let seq_needed = matches!(
            kind,
            IteratorType::AtSequenceNumber | IteratorType::AfterSequenceNumber
        );
        if seq_needed && req.starting_sequence_number.is_none() {
            return Err(KinesisError::InvalidArgument(format!(
                "{ITERATOR_ARGS_HINT} Request specified {} and no StartingSequenceNumber.",
                kind.as_str()
            )));
        }
        if !seq_needed
            && kind != IteratorType::AtTimestamp
            && req.starting_sequence_number.is_some()
        {
            return Err(KinesisError::InvalidArgument(format!(
                "{ITERATOR_ARGS_HINT} Request specified {} and also a StartingSequenceNumber.",
                kind.as_str()
            )));
        }
        if kind == IteratorType::AtTimestamp && req.timestamp_ms.is_none() {
            return Err(KinesisError::InvalidArgument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. \
                 Current request has no timestamp parameter."
                    .into(),
            ));
        }
        let offset = match kind {
            IteratorType::TrimHorizon => bounds.start,
            IteratorType::Latest => bounds.end,
            IteratorType::AtTimestamp => {
                let ts = req.timestamp_ms.unwrap_or(0);
                let now = self.now_ms();
                if ts > now {
                    return Err(messages::future_timestamp(ts, now));
                }
                self.inner.store.seek_timestamp(log, ts).await?
            }
            IteratorType::AtSequenceNumber | IteratorType::AfterSequenceNumber => {
                let text = req.starting_sequence_number.as_deref().unwrap_or_default();
                let after = kind == IteratorType::AfterSequenceNumber;
                let (seq_shard, start) =
                    SequenceNumber::start_offset(text, after).map_err(|_| {
                        KinesisError::InvalidArgument(format!(
                        "StartingSequenceNumber {text} used in GetShardIterator on shard {} in \
                         stream {name} under account {account} is invalid.",
                        req.shard_id
                    ))
                    })?;
                if seq_shard != shard_index {
                    return Err(KinesisError::InvalidArgument(format!(
                        "Invalid StartingSequenceNumber. It encodes {}, while it was used in a \
                         call to a shard with {}",
                        shard_id(seq_shard),
                        shard_id(shard_index)
                    )));
                }
                start
            }
        };
        Ok(ShardIterator {
            issued_ms: self.now_ms(),
            region: ctx.region.clone(),
            // The owner's: GetRecords with this iterator reads the stream it was issued for,
            // whoever's account the reader is in.
            account: Some(ctx.account().to_string()),
            stream_name: name,
            stream_created_ms: created_ms,
            shard_index,
            offset,
        }
        .encode())
    }

    pub async fn get_records(
        &self,
        ctx: &Ctx,
        iterator: &str,
        limit: Option<u32>,
        stream_arn: Option<&str>,
    ) -> Result<GetRecordsOutput> {
        self.get_records_bounded(
            ctx,
            iterator,
            limit,
            stream_arn,
            GET_RECORDS_BYTES_MAX,
            true,
        )
        .await
    }

    /// GetRecords with at most about `max_bytes` of records (SubscribeToShard's events are
    /// smaller than GetRecords' answers); `shared_read` reads count against the shard's shared
    /// read limits (a subscription's do not).
    pub(crate) async fn get_records_bounded(
        &self,
        ctx: &Ctx,
        iterator: &str,
        limit: Option<u32>,
        stream_arn: Option<&str>,
        max_bytes: usize,
        shared_read: bool,
    ) -> Result<GetRecordsOutput> {
        let started = std::time::Instant::now();
        let it = ShardIterator::decode(iterator).map_err(|_| messages::invalid_shard_iterator())?;
        let limit = limit.unwrap_or(GET_RECORDS_LIMIT_MAX);
        if limit > GET_RECORDS_LIMIT_MAX || limit == 0 {
            return Err(KinesisError::InvalidArgument(format!(
                "Limit {limit} is not in the range of [1, {GET_RECORDS_LIMIT_MAX}]."
            )));
        }
        let now = self.now_ms();
        if now - it.issued_ms > ITERATOR_AGE_MS_MAX {
            return Err(KinesisError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} \
                 which is further in the future than the tolerated delay of {ITERATOR_AGE_MS_MAX} \
                 milliseconds.",
                java_date(it.issued_ms),
                java_date(now)
            )));
        }
        if it.region != ctx.region {
            return Err(messages::invalid_shard_iterator());
        }
        // The iterator names its stream's account (none in tokens of earlier builds: the
        // reader's own); another account's stream is read only when its owner granted it.
        let acting = ctx.acting_in(it.account.as_deref());
        let ctx = match &acting {
            Some(c) => &**c,
            None => {
                return Err(messages::shard_not_found(
                    &shard_id(it.shard_index),
                    &it.stream_name,
                    it.account.as_deref().unwrap_or_default(),
                ))
            }
        };
        if let Some(arn) = stream_arn {
            let target = StreamTarget {
                name: None,
                arn: Some(arn.to_string()),
            };
            if self.target_name(ctx, &target)? != it.stream_name {
                return Err(messages::invalid_shard_iterator());
            }
        }
        let account = ctx.account().to_string();
        let missing =
            || messages::shard_not_found(&shard_id(it.shard_index), &it.stream_name, &account);
        let handle = self
            .lookup_name(&it.region, ctx.account(), &it.stream_name)
            .await
            // A stream isolated for damaged metadata says so rather than "no such shard".
            .map_err(|e| match e {
                KinesisError::ResourceInUse(_) => e,
                _ => missing(),
            })?;
        {
            // Not under the stream's lock: a wait must not hold up resharding or deletion.
            let log = {
                let state = handle.read().await;
                state
                    .meta
                    .shard(it.shard_index)
                    .filter(|_| state.meta.created_ms == it.stream_created_ms)
                    .map(|s| LogId(s.log))
            };
            if let Some(log) = log {
                self.inner
                    .store
                    .wait_in_flight(log, it.offset, IN_FLIGHT_WAIT)
                    .await;
            }
        }
        // What the answer needs from the stream's state is taken under its lock, which is then
        // released before the read: a read may pread the disk, and must not hold up puts,
        // resharding or deletion of the stream meanwhile. A shard that closes after this
        // snapshot gets a further iterator, and the next call sees it closed.
        let (log, shard_index, children, encrypted, metrics, shard_metrics) = {
            let state = handle.read().await;
            if state.meta.created_ms != it.stream_created_ms {
                return Err(missing());
            }
            let shard = state.meta.shard(it.shard_index).ok_or_else(missing)?;
            let children: Option<Vec<ChildShard>> = (!shard.is_open()).then(|| {
                shard
                    .children
                    .iter()
                    .filter_map(|c| state.meta.shard(*c))
                    .map(|c| ChildShard {
                        shard_id: shard_id(c.index),
                        parent_shards: c
                            .parent
                            .into_iter()
                            .chain(c.adjacent_parent)
                            .map(shard_id)
                            .collect(),
                        range: c.range,
                    })
                    .collect()
            });
            let encrypted = state.meta.encryption_key.is_some();
            (
                LogId(shard.log),
                shard.index,
                children,
                encrypted,
                state.metrics.clone(),
                state.shard_metrics.get(&shard.index).cloned(),
            )
        };
        // GetRecords.Latency and .Success; a subscription's reads are its events, counted by it.
        let mut timer =
            shared_read.then(|| crate::metrics::OpTimer::start(&metrics.get_records, started));
        if shared_read && self.inner.config.throughput_limits {
            let admitted = handle.read().await.throttle.admit_read(shard_index, now);
            if !admitted {
                metrics.read_throttled.add(1);
                if let Some(m) = &shard_metrics {
                    m.read_throttled.add(1);
                }
                return Err(KinesisError::ProvisionedThroughputExceeded(
                    messages::read_rate_exceeded(&shard_id(shard_index), &it.stream_name, &account),
                ));
            }
        }
        let entries = self
            .inner
            .store
            .read(log, it.offset, limit as usize, max_bytes)
            .await
            .map_err(|e| damaged_records(e, shard_index))?;
        if shared_read && self.inner.config.throughput_limits {
            let bytes: usize = entries.iter().map(|e| e.payload.len()).sum();
            handle
                .read()
                .await
                .throttle
                .charge_read(shard_index, bytes, now);
        }
        let bounds = self.inner.store.bounds(log)?;
        let mut next = it.offset.max(bounds.start);
        if entries.is_empty() && next < bounds.end {
            // Nothing at the iterator below the end: a range marked lost by repair ends the stored data.
            next = self.inner.store.readable_from(log, next);
        }
        // Sealed entries: the keys of their epochs, checked usable (KMS* errors otherwise).
        let mut epochs: Vec<u32> = Vec::new();
        for e in &entries {
            if let Some(epoch) = crate::seal::sealed_epoch(&e.payload) {
                if !epochs.contains(&epoch) {
                    epochs.push(epoch);
                }
            }
        }
        let ciphers = if epochs.is_empty() {
            Default::default()
        } else {
            self.read_ciphers(ctx, &handle, &epochs).await?
        };
        let identity = crate::seal::StreamIdentity {
            region: &it.region,
            name: &it.stream_name,
            created_ms: it.stream_created_ms,
        };
        let mut records = Vec::with_capacity(entries.len());
        let mut last_ts = None;
        // The AAD of the epoch last seen: a read's records are nearly always of one epoch,
        // so it is built once, not once per record.
        let mut aad_of: Option<(u32, Vec<u8>)> = None;
        for e in entries {
            next = Offset(e.offset.0 + 1);
            last_ts = Some(e.timestamp_ms);
            let sealed = crate::seal::sealed_epoch(&e.payload);
            let decoded = match sealed {
                None => decode_entry(&e.payload),
                Some(epoch) => {
                    let aad = match &aad_of {
                        Some((at, aad)) if *at == epoch => aad,
                        _ => {
                            let aad = crate::seal::aad(&identity, shard_index, epoch);
                            &aad_of.insert((epoch, aad)).1
                        }
                    };
                    let opened = ciphers
                        .get(&epoch)
                        .and_then(|c| crate::seal::open(&e.payload, c, aad));
                    if opened.is_none() {
                        // Sealed bytes that do not authenticate were altered (or moved): never
                        // served, and named like any damaged range.
                        tracing::error!(
                            shard = %shard_id(shard_index),
                            offset = e.offset.0,
                            epoch,
                            "a sealed record does not authenticate"
                        );
                        return Err(KinesisError::Damaged(format!(
                            "Internal service failure: the record of {} with sequence number {} \
                             is damaged in storage (it does not authenticate) and cannot be served",
                            shard_id(shard_index),
                            SequenceNumber::new(shard_index, e.offset),
                        )));
                    }
                    opened
                }
            };
            let Some((partition_key, data)) = decoded else {
                tracing::error!(
                    log = log.0,
                    offset = e.offset.0,
                    "undecodable entry skipped"
                );
                continue;
            };
            records.push(Record {
                sequence_number: SequenceNumber::new(shard_index, e.offset).to_string(),
                arrival_ms: e.timestamp_ms,
                data,
                partition_key,
                encrypted: sealed.is_some(),
            });
        }
        let out_bytes: u64 = records
            .iter()
            .map(|r| (r.data.len() + r.partition_key.len()) as u64)
            .sum();
        // CloudWatch's iterator age: how old the last record returned is (0 for none).
        let age_ms = if records.is_empty() {
            0
        } else {
            last_ts.map_or(0, |t| (now - t).max(0))
        };
        if let Some(m) = &shard_metrics {
            m.outgoing_records.add(records.len() as u64);
            m.outgoing_bytes.add(out_bytes);
            m.iterator_age_ms
                .store(age_ms, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(timer) = timer.as_mut() {
            metrics.get_records_bytes.add(out_bytes);
            metrics.get_records_records.add(records.len() as u64);
            metrics
                .get_records_iterator_age_ms
                .observe(u64::try_from(age_ms).unwrap_or(0));
            timer.succeeded();
        }
        let caught_up = next >= bounds.end;
        let millis_behind_latest = if caught_up {
            0
        } else {
            last_ts.map_or(0, |t| (now - t).max(0))
        };
        let (next_shard_iterator, child_shards) = match children {
            Some(children) if caught_up => (None, Some(children)),
            _ => {
                let token = ShardIterator {
                    issued_ms: now,
                    offset: next,
                    ..it
                }
                .encode();
                (Some(token), None)
            }
        };
        Ok(GetRecordsOutput {
            records,
            next_shard_iterator,
            millis_behind_latest,
            child_shards,
            encrypted,
        })
    }
}

/// `java.util.Date#toString` in UTC, the format AWS prints times in: `Mon Nov 23 04:11:51 UTC 2026`.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::clock::civil_from_days(days);
    let weekday = DAYS
        .get(days.rem_euclid(7) as usize)
        .copied()
        .unwrap_or("Thu");
    let month = MONTHS.get((m - 1) as usize).copied().unwrap_or("Jan");
    format!(
        "{weekday} {month} {d:02} {:02}:{:02}:{:02} UTC {y}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A read of damaged records becomes `InternalFailure` (HTTP 500) whose message names the damaged records by
/// sequence number. 500 rather than a 4xx: the request is right and the fault is the service's; SDKs retry a 500 a
/// bounded number of times (wasted here, but harmless), while a 400 such as InvalidArgumentException would tell
/// the client its request was wrong, and no AWS error code says "these records are gone".
fn damaged_records(e: rheo_log::ReadError, shard_index: u64) -> KinesisError {
    match e {
        rheo_log::ReadError::Damaged { from, to, .. } => {
            tracing::error!(error = %e, shard = %shard_id(shard_index), "GetRecords met damaged records");
            KinesisError::Damaged(format!(
                "Internal service failure: the records of {} from sequence number {} up to (not including) {} are \
                 damaged in storage and cannot be served ({e})",
                shard_id(shard_index),
                SequenceNumber::new(shard_index, Offset(from)),
                SequenceNumber::new(shard_index, Offset(to)),
            ))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_date_formats_like_aws() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_406_511_000), "Mon Nov 23 04:01:51 UTC 2026");
    }

    proptest! {
        #[test]
        fn entry_round_trips(pk in "\\PC{1,256}", data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let e = encode_entry(&pk, &data);
            let (p, d) = decode_entry(&e).unwrap();
            prop_assert_eq!(p, pk);
            prop_assert_eq!(&d[..], &data[..]);
        }

        #[test]
        fn decode_entry_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_entry(&Bytes::from(raw));
        }
    }
}
