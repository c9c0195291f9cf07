//! Reading stream metadata out of the storage catalog with damage isolated: a catalog file that fails its checks,
//! a document that does not decode, or one of a metadata version this build does not know is set aside (reported,
//! never served, never overwritten) and every other stream loads normally. Used at open and by `rheo fsck`.
//! See `docs/design/catalog.md`.

use std::collections::BTreeSet;

use rheo_log::{CatalogDamage, CatalogScan};
use serde::Deserialize;

use crate::meta::{Pending, StreamMeta, META_VERSION};
use crate::service::{catalog_key, CATALOG_STREAM_PREFIX};

/// A stream metadata entry that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedMeta {
    /// The catalog key, when known (`stream/<region>/<name>`).
    pub key: Option<String>,
    /// The catalog file, when the catalog itself found the damage.
    pub file: Option<String>,
    /// The owning account when the key names one (not the configured account).
    pub account: Option<String>,
    /// The stream's region and name, when the key says them.
    pub region: Option<String>,
    pub name: Option<String>,
    /// What is wrong, for operators.
    pub reason: String,
    /// The document decodes but is of a metadata version this build does not know (a newer build's): repair
    /// leaves it alone.
    pub unknown_version: Option<u32>,
}

impl std::fmt::Display for DamagedMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.region, &self.name, &self.file) {
            (Some(region), Some(name), _) => match &self.account {
                Some(account) => write!(f, "stream {name} ({region}, account {account})")?,
                None => write!(f, "stream {name} ({region})")?,
            },
            (_, _, Some(file)) => write!(f, "catalog file {file}")?,
            _ => write!(f, "catalog key {:?}", self.key)?,
        }
        write!(f, ": {}", self.reason)
    }
}

/// Streams that loaded, and entries that did not.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub metas: Vec<StreamMeta>,
    pub damaged: Vec<DamagedMeta>,
}

/// `stream/<region>/<name>` -> (None, region, name), `stream/@<account>/<region>/<name>` ->
/// (Some(account), region, name). Accounts, regions and stream names hold no '/'.
pub(crate) fn split_key(key: &str) -> Option<(Option<String>, String, String)> {
    let rest = key.strip_prefix(CATALOG_STREAM_PREFIX)?;
    let (account, rest) = match rest.strip_prefix('@') {
        Some(scoped) => {
            let (account, rest) = scoped.split_once('/')?;
            (
                Some(account.to_string()).filter(|a| !a.is_empty())?.into(),
                rest,
            )
        }
        None => (None, rest),
    };
    let (region, name) = rest.split_once('/')?;
    (!region.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| (account, region.to_string(), name.to_string()))
}

fn damaged(key: Option<&str>, file: Option<&str>, reason: String) -> DamagedMeta {
    let (account, region, name) = match key.and_then(split_key) {
        Some((a, r, n)) => (a, Some(r), Some(n)),
        None => (None, None, None),
    };
    DamagedMeta {
        key: key.map(str::to_string),
        file: file.map(str::to_string),
        account,
        region,
        name,
        reason,
        unknown_version: None,
    }
}

/// Documents written before the version field was checked on read all carry `v: 1`; one without it is read as
/// version 1 too, the only format those builds wrote.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default = "one")]
    v: u32,
}

fn one() -> u32 {
    1
}

/// Decodes one entry, checking its version first (so a later format is named as such, not as garbage) and that it
/// is stored under its own key.
pub(crate) fn decode(key: &str, value: &[u8]) -> Result<StreamMeta, String> {
    let version: VersionOnly =
        serde_json::from_slice(value).map_err(|e| format!("metadata does not decode: {e}"))?;
    if version.v != META_VERSION {
        return Err(format!(
            "unknown metadata version {} (this build reads version {META_VERSION})",
            version.v
        ));
    }
    let meta: StreamMeta =
        serde_json::from_slice(value).map_err(|e| format!("metadata does not decode: {e}"))?;
    if catalog_key(meta.account.as_deref(), &meta.region, &meta.name) != key {
        return Err(format!(
            "metadata names stream {} in {}, not the stream of its key",
            meta.name, meta.region
        ));
    }
    Ok(meta)
}

/// Sorts a catalog scan of the stream prefix into loadable streams and damaged entries.
pub(crate) fn load(scan: CatalogScan) -> Loaded {
    let mut out = Loaded::default();
    for d in scan.damaged {
        out.damaged.push(catalog_damage(&d));
    }
    for (key, value) in scan.entries {
        match decode(&key, &value) {
            Ok(meta) => out.metas.push(meta),
            Err(reason) => {
                let mut d = damaged(Some(&key), None, reason);
                d.unknown_version = serde_json::from_slice::<VersionOnly>(&value)
                    .ok()
                    .map(|v| v.v)
                    .filter(|v| *v != META_VERSION);
                out.damaged.push(d);
            }
        }
    }
    out
}

fn catalog_damage(d: &CatalogDamage) -> DamagedMeta {
    damaged(d.key.as_deref(), Some(&d.file), d.kind.to_string())
}

/// Every log id a stream's metadata names: its shards' and those a pending reshard has reserved.
pub(crate) fn referenced_logs(meta: &StreamMeta) -> impl Iterator<Item = u64> + '_ {
    let pending: &[crate::meta::NewShard] = match &meta.pending {
        Some(Pending::Reshard(r)) => &r.open,
        _ => &[],
    };
    meta.shards
        .iter()
        .map(|s| s.log)
        .chain(pending.iter().map(|s| s.log))
}

/// What the stream metadata of a stopped store says, for `rheo fsck`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaCheck {
    /// Streams whose metadata loads.
    pub streams: usize,
    /// Entries that would be isolated at open.
    pub damaged: Vec<DamagedMeta>,
    /// Logs held in the store that no loadable stream names, ascending.
    pub orphan_logs: Vec<u64>,
}

/// Checks the stream metadata among a catalog's `entries` (every key; others are ignored) and `damage` (as the
/// storage engine's fsck reports them), against the logs the store holds.
pub fn check_catalog(
    entries: &[(String, Vec<u8>)],
    damage: &[CatalogDamage],
    logs: &[u64],
) -> MetaCheck {
    let scan = CatalogScan {
        entries: entries
            .iter()
            .filter(|(k, _)| k.starts_with(CATALOG_STREAM_PREFIX))
            .cloned()
            .collect(),
        damaged: damage
            .iter()
            .filter(|d| {
                d.key
                    .as_deref()
                    .is_none_or(|k| k.starts_with(CATALOG_STREAM_PREFIX))
            })
            .cloned()
            .collect(),
    };
    let loaded = load(scan);
    let referenced: BTreeSet<u64> = loaded.metas.iter().flat_map(referenced_logs).collect();
    MetaCheck {
        streams: loaded.metas.len(),
        damaged: loaded.damaged,
        orphan_logs: logs
            .iter()
            .copied()
            .filter(|l| !referenced.contains(l))
            .collect(),
    }
}
