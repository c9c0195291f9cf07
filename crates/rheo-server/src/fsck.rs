//! `rheo fsck [--repair] DIR`: the storage engine's offline check and repair, with a report on stdout.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

/// Checks a stopped server's data directory: every journal frame's checksum, the segment indexes and the catalog.
#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Mark every damaged range lost, so that readers move past it as past trimmed data.
    #[arg(long)]
    pub repair: bool,
    /// With --repair: the region of a stream rebuilt from orphan logs when neither a damaged entry's key nor the
    /// readable streams name a single region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The data directory (the server's `--data-dir`); the server must not be running on it.
    pub dir: PathBuf,
}

/// Prints the report; exits with status 1 when damage was found and is not repaired.
pub fn run(args: &FsckArgs) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.dir.display());
    }
    let mut report = if args.repair {
        rheo_log::fsck::repair(&args.dir)
    } else {
        rheo_log::fsck::check(&args.dir)
    }
    .with_context(|| format!("checking {}", args.dir.display()))?;
    // The engine cannot tell which logs its catalog entries name; the domain can: damaged stream metadata and
    // logs no stream names (a deleted or damaged catalog entry) are findings too.
    let mut findings = meta_findings(&report);
    let mut actions = Vec::new();
    let mut left = Vec::new();
    if args.repair && (!findings.is_empty() || !report.catalog.is_empty()) {
        // The domain repairs its metadata through the store (the journal repair above ran first), then the
        // directory is checked again: the exit status says what is left.
        let store = rheo_log::Store::open(rheo_log::StoreConfig {
            dir: Some(args.dir.clone()),
            ..rheo_log::StoreConfig::default()
        })
        .with_context(|| format!("opening {}", args.dir.display()))?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let done = rheo_streams::repair_metadata(
            &store,
            &rheo_streams::RepairOptions {
                region: args.region.clone(),
                now_ms,
            },
        )
        .with_context(|| format!("repairing the stream metadata of {}", args.dir.display()))?;
        drop(store);
        actions = done.actions;
        left = done.left;
        let after = rheo_log::fsck::check(&args.dir)
            .with_context(|| format!("checking {} after repair", args.dir.display()))?;
        findings = meta_findings(&after);
        report.catalog = after.catalog;
    }
    let mut text = report.to_string();
    if !findings.is_empty() {
        if let Some(rest) = text.strip_suffix("no damage found\n") {
            text = rest.to_string();
        }
    }
    print!("{text}");
    for line in &actions {
        println!("repaired: {line}");
    }
    for line in &left {
        println!("not repaired: {line}");
    }
    for line in &findings {
        println!("{line}");
    }
    if !report.is_clean() || !findings.is_empty() || !left.is_empty() {
        if !args.repair && !report.is_clean() {
            println!(
                "damage found; `rheo fsck --repair {}` marks it lost",
                args.dir.display()
            );
        }
        if !args.repair && !findings.is_empty() {
            println!(
                "stream metadata needs attention: `rheo fsck --repair {}` sets damaged entries aside and adopts \
                 orphan logs into rebuilt streams",
                args.dir.display()
            );
        }
        std::process::exit(1);
    }
    Ok(())
}

/// One line per damaged stream metadata entry and per orphan log that still holds entries.
fn meta_findings(report: &rheo_log::fsck::FsckReport) -> Vec<String> {
    let ids: Vec<u64> = report.logs.iter().map(|l| l.log).collect();
    let meta = rheo_streams::check_catalog(&report.catalog_entries, &report.catalog, &ids);
    let logs = &report.logs;
    let mut out = Vec::new();
    for d in &meta.damaged {
        let what = match (&d.region, &d.name) {
            (Some(region), Some(name)) => format!("stream {name} ({region})"),
            _ => d
                .key
                .clone()
                .or_else(|| d.file.clone())
                .unwrap_or_else(|| "a stream".to_string()),
        };
        out.push(format!(
            "stream metadata: {what}: {}; the stream is refused until it is restored",
            d.reason
        ));
    }
    for l in logs.iter() {
        if meta.orphan_logs.contains(&l.log) && l.to > l.from {
            out.push(format!(
                "orphan log {} entries {}..{}: no stream names it (its catalog entry is missing or damaged)",
                l.log, l.from, l.to
            ));
        }
    }
    out
}
