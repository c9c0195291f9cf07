//! Offline check and repair of a store directory (`rheo fsck DIR`, `rheo fsck --repair DIR`).
//!
//! `check` scans every journal segment (every frame's CRC, sealed ones too, whatever their `.idx` says), compares
//! each sealed segment with its `.idx`, and verifies every catalog entry's CRC. `repair` records every damaged log
//! range in the lost-range record (see `docs/design/log-format.md`, "Lost ranges"), after which readers move past
//! those ranges as past trimmed data, and removes the `.idx` of damaged segments so that every open rescans them.

use std::fmt;
use std::path::Path;

use crate::catalog::{Catalog, CatalogDamage};
use crate::disk::fsck_scan;
use crate::lost::LostRange;
use crate::storage::sync_dir;
use crate::{Damage, OpenError};

/// One log range fsck found damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckRange {
    /// The log.
    pub log: u64,
    /// First offset of the range.
    pub from: u64,
    /// One past its last offset.
    pub to: u64,
    /// Segment and byte position of the damage.
    pub segment: u64,
    /// Byte position in the segment.
    pub position: u64,
    /// Already marked lost (by an earlier repair): readers move past it.
    pub lost: bool,
}

/// One log of the journal with the offsets it holds (`from..to`; `from == to` for a log with nothing left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsckLog {
    /// The log.
    pub log: u64,
    /// First offset still held (past trimmed entries).
    pub from: u64,
    /// One past the last offset.
    pub to: u64,
}

/// What fsck found (and, for [`repair`], what it marked lost).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Damaged places in the journal.
    pub damage: Vec<Damage>,
    /// Log ranges affected, lost or not yet.
    pub ranges: Vec<FsckRange>,
    /// Catalog files failing their checks, one by one.
    pub catalog: Vec<CatalogDamage>,
    /// Every good catalog entry (key, value), sorted by key: for the catalog's owner to check what the entries
    /// mean (which logs they name), since this crate cannot.
    pub catalog_entries: Vec<(String, Vec<u8>)>,
    /// Every log the journal holds, ascending, with its offset range.
    pub logs: Vec<FsckLog>,
    /// Remarks that are not damage (a missing `.idx` is rebuilt at open).
    pub notes: Vec<String>,
    /// Ranges this run marked lost ([`repair`] only).
    pub repaired: Vec<FsckRange>,
}

impl FsckReport {
    /// Serviceable: every damaged log range is marked lost, and no catalog entry fails its check. Damage that no
    /// log range could be attributed to (only possible with no range at all) counts as unrepaired.
    pub fn is_clean(&self) -> bool {
        self.ranges.iter().all(|r| r.lost)
            && self.catalog.is_empty()
            && (self.damage.is_empty() || !self.ranges.is_empty())
    }
}

impl fmt::Display for FsckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.damage {
            writeln!(
                f,
                "damage: journal segment {} at byte {} ({} bytes)",
                d.segment, d.position, d.bytes
            )?;
        }
        for r in &self.ranges {
            let state = if r.lost {
                "lost (readers skip it)"
            } else {
                "damaged (refused to readers)"
            };
            writeln!(
                f,
                "log {} entries {}..{}: {state}; segment {} byte {}",
                r.log, r.from, r.to, r.segment, r.position
            )?;
        }
        for d in &self.catalog {
            match &d.key {
                Some(key) => writeln!(f, "catalog entry {} (key {key:?}): {}", d.file, d.kind)?,
                None => writeln!(f, "catalog entry {}: {}", d.file, d.kind)?,
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        for r in &self.repaired {
            writeln!(
                f,
                "repaired: log {} entries {}..{} marked lost ({} entries)",
                r.log,
                r.from,
                r.to,
                r.to - r.from
            )?;
        }
        if self.damage.is_empty() && self.catalog.is_empty() {
            writeln!(f, "no damage found")?;
        }
        Ok(())
    }
}

fn range((r, lost): &(LostRange, bool)) -> FsckRange {
    FsckRange {
        log: r.log,
        from: r.from,
        to: r.to,
        segment: r.segment,
        position: r.position,
        lost: *lost,
    }
}

/// Checks the store directory `dir` offline (it must not be open: its lock is taken). Writes nothing.
pub fn check(dir: &Path) -> Result<FsckReport, OpenError> {
    let rec = fsck_scan(dir)?;
    let cpath = dir.join("catalog");
    let scan = Catalog::scan_dir(&cpath, "").map_err(|source| OpenError::Io {
        path: cpath.clone(),
        source,
    })?;
    Ok(FsckReport {
        damage: rec.damage,
        ranges: rec.holes.iter().map(range).collect(),
        catalog: scan.damaged,
        catalog_entries: scan.entries,
        logs: rec
            .logs
            .iter()
            .map(|&(log, from, to)| FsckLog { log, from, to })
            .collect(),
        notes: rec.notes,
        repaired: Vec::new(),
    })
}

/// [`check`], then marks every damaged log range lost (durably, in the lost-range record) and removes the `.idx` of
/// each damaged segment so that opening the store rescans it and readers skip its damaged bytes. Catalog damage is
/// reported, not repaired (the catalog's owner decides what a damaged entry means).
pub fn repair(dir: &Path) -> Result<FsckReport, OpenError> {
    let rec = fsck_scan(dir)?;
    let mut report = check(dir)?;
    let io = |source| OpenError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut lost = LostRange::load(dir).map_err(io)?;
    let fresh: Vec<&(LostRange, bool)> = rec.holes.iter().filter(|(_, l)| !*l).collect();
    if !fresh.is_empty() {
        lost.extend(fresh.iter().map(|(r, _)| *r));
        lost.sort_unstable();
        lost.dedup();
        // First the record, then the `.idx` removal: a crash between leaves the ranges lost and a rerun finishes.
        LostRange::store(dir, &lost).map_err(io)?;
    }
    let jpath = dir.join("journal");
    let mut removed = false;
    for seq in &rec.damaged_segments {
        match std::fs::remove_file(jpath.join(format!("{seq:020}.idx"))) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    if removed {
        sync_dir(&jpath).map_err(io)?;
    }
    report.repaired = fresh.into_iter().map(range).collect();
    for r in &mut report.ranges {
        r.lost = true;
    }
    Ok(report)
}
