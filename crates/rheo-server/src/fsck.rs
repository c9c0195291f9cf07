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
    /// The data directory (the server's `--data-dir`); the server must not be running on it.
    pub dir: PathBuf,
}

/// Prints the report; exits with status 1 when damage was found and is not repaired.
pub fn run(args: &FsckArgs) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.dir.display());
    }
    let report = if args.repair {
        rheo_log::fsck::repair(&args.dir)
    } else {
        rheo_log::fsck::check(&args.dir)
    }
    .with_context(|| format!("checking {}", args.dir.display()))?;
    print!("{report}");
    if !report.is_clean() {
        if !args.repair {
            println!(
                "damage found; `rheo fsck --repair {}` marks it lost",
                args.dir.display()
            );
        }
        std::process::exit(1);
    }
    Ok(())
}
