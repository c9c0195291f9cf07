//! Offline repair of stream metadata (`rheo fsck --repair`, the server stopped): damaged catalog entries are copied
//! to the quarantine beside the catalog and removed from the live catalog (or replaced), and logs that hold entries
//! but that no readable stream names (orphans) are adopted into a rebuilt stream, so that their records are served
//! again. See `docs/design/catalog.md`, "Repair".

use std::collections::BTreeSet;

use rheo_log::{LogId, Offset, Store};

use crate::catalog::{self, DamagedMeta};
use crate::hash::{split_evenly, HashRange};
use crate::limits::{RECORD_SIZE_KIB_DEFAULT, RETENTION_HOURS_MAX, RETENTION_HOURS_MIN};
use crate::meta::{ShardMeta, StreamMeta, StreamMode, StreamStatus, META_VERSION};
use crate::service::{
    catalog_key, next_log_id, store_next_log_id, CATALOG_NEXT_LOG_KEY, CATALOG_STREAM_PREFIX,
};

/// Settings of a metadata repair.
#[derive(Debug, Clone)]
pub struct RepairOptions {
    /// Region of a recovered stream when neither a damaged key nor the readable streams name a single one.
    pub region: String,
    /// The repair's clock: creation time of recovered streams, and what retention is measured from.
    pub now_ms: i64,
}

/// Why a repair could not run.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Catalog(#[from] rheo_log::CatalogError),
    #[error("reading log {log}: {source}")]
    Read {
        log: u64,
        #[source]
        source: rheo_log::ReadError,
    },
    #[error("{0}")]
    Domain(String),
}

impl From<crate::KinesisError> for RepairError {
    fn from(e: crate::KinesisError) -> Self {
        RepairError::Domain(e.to_string())
    }
}

/// What a repair did, one line per action, and what it left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaRepair {
    /// Done, for the report ("quarantined damaged entry ...", "adopted orphan logs 7,8 into stream ...").
    pub actions: Vec<String>,
    /// Damage left as it was, with why.
    pub left: Vec<String>,
}

/// A recovered stream: the logs it adopts, in log-id order.
struct Group {
    region: String,
    name: String,
    logs: Vec<u64>,
}

/// Repairs the stream metadata of `store` (opened on a stopped server's directory). Writes, in this order, each
/// step leaving a state a rerun finishes: the log-id counter (above every id, so nothing is ever reused), the
/// recovered streams' documents, then removes the damaged entries (each copied to the quarantine first). An entry
/// of an unknown (newer) metadata version stops the repair before anything is written: its logs look orphaned to
/// this build but are not.
pub fn repair_metadata(store: &Store, opts: &RepairOptions) -> Result<MetaRepair, RepairError> {
    let mut out = MetaRepair::default();
    let loaded = catalog::load(store.catalog_scan(CATALOG_STREAM_PREFIX)?);
    if let Some(d) = loaded.damaged.iter().find(|d| d.unknown_version.is_some()) {
        out.left.push(format!(
            "{d}: written by a newer build; not repaired (nothing was changed: its logs look orphaned to this \
             build but are its own)"
        ));
        return Ok(out);
    }
    let referenced: BTreeSet<u64> = loaded
        .metas
        .iter()
        .flat_map(catalog::referenced_logs)
        .collect();
    let store_logs = store.log_ids();
    let mut orphans = Vec::new();
    for log in &store_logs {
        // A reserved log is another domain's table (the KMS keys), never a stream's.
        if referenced.contains(&log.0) || log.0 < rheo_log::FIRST_ALLOCATED_LOG {
            continue;
        }
        let b = store
            .bounds(*log)
            .map_err(|source| RepairError::Read { log: log.0, source })?;
        // A log with nothing left holds no record to serve: not worth a stream.
        if b.end > b.start {
            orphans.push(log.0);
        }
    }

    // 1. The counter first: past every id in use, and past the skip a damaged entry calls for, durably, since the
    //    damaged entries are gone after the repair and would no longer call for it.
    let all_damage = store.catalog_scan("")?.damaged;
    let counter_damage: Vec<_> = all_damage
        .iter()
        .filter(|d| d.key.as_deref() == Some(CATALOG_NEXT_LOG_KEY))
        .collect();
    let next = next_log_id(
        store,
        referenced.iter().copied(),
        &store_logs,
        !loaded.damaged.is_empty(),
    )?;
    let stored = store
        .catalog_get(CATALOG_NEXT_LOG_KEY)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if stored != Some(next) {
        for d in &counter_damage {
            let q = store.catalog_quarantine(&d.file)?;
            out.actions.push(format!(
                "quarantined damaged log-id counter {} to {q}",
                d.file
            ));
        }
        store_next_log_id(store, next)?;
        out.actions.push(format!("log-id counter set to {next}"));
    }

    // 2. Group the orphans and write their streams.
    let groups = plan(
        &loaded.metas,
        &loaded.damaged,
        &referenced,
        &orphans,
        &opts.region,
    );
    let mut replaced = BTreeSet::new();
    for g in &groups {
        // Recovered streams go to the configured account, whose namespace `plan` checked.
        let key = catalog_key(None, &g.region, &g.name);
        // The stream's own damaged entry is replaced by the new document (copied aside first).
        for d in loaded
            .damaged
            .iter()
            .filter(|d| d.key.as_deref() == Some(key.as_str()))
        {
            if let Some(file) = &d.file {
                let q = store.catalog_quarantine(file)?;
                out.actions
                    .push(format!("quarantined damaged entry {d} to {q}"));
            } else {
                quarantine_key(store, &key, d, &mut out)?;
            }
            replaced.insert(key.clone());
        }
        let meta = rebuild(store, g, opts.now_ms)?;
        let doc = serde_json::to_vec(&meta)
            .map_err(|e| RepairError::Domain(format!("cannot encode metadata: {e}")))?;
        store.catalog_put(&key, &doc)?;
        let ids: Vec<String> = g.logs.iter().map(u64::to_string).collect();
        out.actions.push(format!(
            "adopted orphan logs {} into stream {} ({}) with {} shards, retention {} hours",
            ids.join(","),
            g.name,
            g.region,
            g.logs.len(),
            meta.retention_hours
        ));
    }

    // 3. Every other damaged stream entry leaves the live catalog, its bytes kept in the quarantine.
    for d in &loaded.damaged {
        if d.key.as_ref().is_some_and(|k| replaced.contains(k)) {
            continue;
        }
        match (&d.file, &d.key) {
            (Some(file), _) => {
                let q = store.catalog_quarantine(file)?;
                store.catalog_remove_file(file)?;
                out.actions
                    .push(format!("quarantined damaged entry {d} to {q}"));
            }
            (None, Some(key)) => {
                quarantine_key(store, key, d, &mut out)?;
                store.catalog_delete(key)?;
            }
            (None, None) => out.left.push(format!("{d}: no file or key to act on")),
        }
    }
    Ok(out)
}

/// Quarantines the catalog file of a key whose document (not its file) is damaged.
fn quarantine_key(
    store: &Store,
    key: &str,
    d: &DamagedMeta,
    out: &mut MetaRepair,
) -> Result<(), RepairError> {
    let q = store.catalog_quarantine(&rheo_log::catalog_file_name(key))?;
    out.actions
        .push(format!("quarantined damaged entry {d} to {q}"));
    Ok(())
}

/// Which orphans go to which stream. Exactly one damaged entry, naming its stream: every orphan is that stream's
/// (it is the only stream whose logs nobody else names). Otherwise the owner of each log cannot be told: orphans
/// are cut into runs of ids that no readable stream's log falls between (CreateStream allocates a stream's logs
/// in one consecutive block), each run a stream `recovered-<first log id>`.
fn plan(
    metas: &[StreamMeta],
    damaged: &[DamagedMeta],
    referenced: &BTreeSet<u64>,
    orphans: &[u64],
    default_region: &str,
) -> Vec<Group> {
    if orphans.is_empty() {
        return Vec::new();
    }
    if let [only] = damaged {
        if let (Some(region), Some(name)) = (&only.region, &only.name) {
            return vec![Group {
                region: region.clone(),
                name: name.clone(),
                logs: orphans.to_vec(),
            }];
        }
    }
    let region = single(damaged.iter().filter_map(|d| d.region.as_deref()))
        .or_else(|| single(metas.iter().map(|m| m.region.as_str())))
        .unwrap_or(default_region)
        .to_string();
    let taken: BTreeSet<String> = metas
        .iter()
        .filter(|m| m.region == region && m.account.is_none())
        .map(|m| m.name.clone())
        .chain(
            damaged
                .iter()
                .filter(|d| d.region.as_deref() == Some(region.as_str()) && d.account.is_none())
                .filter_map(|d| d.name.clone()),
        )
        .collect();
    let mut runs: Vec<Vec<u64>> = Vec::new();
    for &log in orphans {
        match runs.last_mut() {
            Some(run)
                if run
                    .last()
                    .is_some_and(|&prev| referenced.range(prev..log).next().is_none()) =>
            {
                run.push(log)
            }
            _ => runs.push(vec![log]),
        }
    }
    let mut names = taken;
    runs.into_iter()
        .filter_map(|logs| {
            let first = *logs.first()?;
            let base = format!("recovered-{first}");
            let name = std::iter::once(base.clone())
                .chain((2u32..).map(|n| format!("{base}-{n}")))
                .find(|n| !names.contains(n))?;
            names.insert(name.clone());
            Some(Group {
                region: region.clone(),
                name,
                logs,
            })
        })
        .collect()
}

/// The one value of `it`, if it has values and they are all equal.
fn single<'a>(mut it: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let first = it.next()?;
    it.all(|x| x == first).then_some(first)
}

/// A stream holding `g.logs` as its open shards, one each in log-id order, hash ranges split evenly; retention
/// long enough to keep the oldest record (a day more, for the time until the server runs; at most the maximum).
fn rebuild(store: &Store, g: &Group, now_ms: i64) -> Result<StreamMeta, RepairError> {
    let mut oldest = now_ms;
    for &log in &g.logs {
        let b = store
            .bounds(LogId(log))
            .map_err(|source| RepairError::Read { log, source })?;
        // A damaged first entry (not marked lost) says nothing: the next readable one is at most as old.
        let from = store.readable_from(LogId(log), Offset(b.start.0));
        if let Some(e) = store
            .read_blocking(LogId(log), from, 1, 1)
            .ok()
            .and_then(|v| v.into_iter().next())
        {
            oldest = oldest.min(e.timestamp_ms);
        }
    }
    let age_hours = u32::try_from(
        u64::try_from(now_ms.saturating_sub(oldest))
            .unwrap_or(0)
            .div_ceil(3_600_000),
    )
    .unwrap_or(u32::MAX);
    let retention_hours = age_hours
        .saturating_add(RETENTION_HOURS_MIN)
        .clamp(RETENTION_HOURS_MIN, RETENTION_HOURS_MAX);
    let count = u32::try_from(g.logs.len()).unwrap_or(u32::MAX);
    let shards = split_evenly(HashRange::FULL, count)
        .into_iter()
        .zip(&g.logs)
        .enumerate()
        .map(|(i, (range, &log))| ShardMeta {
            index: i as u64,
            log,
            range,
            parent: None,
            adjacent_parent: None,
            created_ms: now_ms,
            closed_ms: None,
            children: Vec::new(),
        })
        .collect();
    Ok(StreamMeta {
        v: META_VERSION,
        name: g.name.clone(),
        region: g.region.clone(),
        account: None,
        // Now, not the old stream's time: iterators of the lost incarnation (which name it) stay refused.
        created_ms: now_ms,
        status: StreamStatus::Active,
        pending: None,
        due_ms: now_ms,
        retention_hours,
        mode: StreamMode::Provisioned,
        shards,
        tags: Default::default(),
        encryption_key: None,
        enhanced_metrics: Vec::new(),
        max_record_size_kib: RECORD_SIZE_KIB_DEFAULT,
        warm_throughput_mibps: None,
        record_distribution: Default::default(),
        mode_switches_ms: Vec::new(),
        scalings_ms: Vec::new(),
        data_keys: Vec::new(),
        consumers: Vec::new(),
        policy: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn damaged(region: Option<&str>, name: Option<&str>) -> DamagedMeta {
        DamagedMeta {
            key: name.map(|n| format!("stream/{}/{n}", region.unwrap_or("?"))),
            file: None,
            account: None,
            region: region.map(str::to_string),
            name: name.map(str::to_string),
            reason: "crc mismatch".into(),
            unknown_version: None,
        }
    }

    fn groups(g: &[Group]) -> Vec<(String, String, Vec<u64>)> {
        g.iter()
            .map(|g| (g.region.clone(), g.name.clone(), g.logs.clone()))
            .collect()
    }

    #[test]
    fn one_named_damaged_entry_takes_every_orphan() {
        let d = [damaged(Some("eu-west-1"), Some("b"))];
        let referenced: BTreeSet<u64> = [4].into();
        let g = plan(&[], &d, &referenced, &[2, 3, 5], "us-east-1");
        assert_eq!(
            groups(&g),
            vec![("eu-west-1".into(), "b".into(), vec![2, 3, 5])]
        );
    }

    #[test]
    fn unattributable_orphans_split_at_logs_of_readable_streams() {
        let referenced: BTreeSet<u64> = [1, 4].into();
        // Deleted entries: nothing names a stream; ids 2,3 and 5,6 were allocated apart.
        let g = plan(&[], &[], &referenced, &[2, 3, 5, 6], "us-east-1");
        assert_eq!(
            groups(&g),
            vec![
                ("us-east-1".into(), "recovered-2".into(), vec![2, 3]),
                ("us-east-1".into(), "recovered-5".into(), vec![5, 6]),
            ]
        );
        // Two named damaged entries in one region: that region; a taken name gets a suffix.
        let d = [
            damaged(Some("eu-west-1"), Some("recovered-2")),
            damaged(Some("eu-west-1"), Some("x")),
        ];
        let g = plan(&[], &d, &referenced, &[2, 3], "us-east-1");
        assert_eq!(
            groups(&g),
            vec![("eu-west-1".into(), "recovered-2-2".into(), vec![2, 3])]
        );
        // A damaged entry whose name is unknown besides a named one: not attributable either.
        let d = [damaged(Some("eu-west-1"), Some("b")), damaged(None, None)];
        let g = plan(&[], &d, &referenced, &[2], "us-east-1");
        assert_eq!(
            groups(&g),
            vec![("eu-west-1".into(), "recovered-2".into(), vec![2])]
        );
        assert!(plan(&[], &d, &referenced, &[], "us-east-1").is_empty());
    }
}
