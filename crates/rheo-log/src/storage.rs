//! The narrow file-system surface the disk engine uses, behind traits so tests can inject failures (fail the Nth
//! write or sync) and check that the engine turns them into sticky poisoning instead of retrying and pretending.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One journal segment file. Writes come only from the writer thread; reads (`pread`) from any thread.
pub(crate) trait SegmentFile: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at `pos`.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Fills `buf` from `pos`; returns fewer bytes only at end of file.
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize>;
    /// `fdatasync`.
    fn sync(&self) -> io::Result<()>;
    /// Current file length.
    fn len(&self) -> io::Result<u64>;
    /// Cuts the file to `len` bytes (used by recovery to drop a torn tail).
    fn truncate(&self, len: u64) -> io::Result<()>;
}

/// Failure injection for tests: the Nth (1-based) write or sync from now fails, and every later one too.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub fail_write_at: AtomicU64,
    pub fail_sync_at: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
}

impl Faults {
    fn trip(counter: &AtomicU64, at: &AtomicU64, what: &str) -> io::Result<()> {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let at = at.load(Ordering::SeqCst);
        if at != 0 && n >= at {
            return Err(io::Error::other(format!("injected {what} failure #{n}")));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct FsSegment {
    file: File,
    faults: Option<Arc<Faults>>,
}

impl SegmentFile for FsSegment {
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        if let Some(f) = &self.faults {
            Faults::trip(&f.writes, &f.fail_write_at, "write")?;
        }
        self.file.write_all_at(buf, pos)
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let rest = buf.get_mut(done..).unwrap_or_default();
            match self.file.read_at(rest, pos + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn sync(&self) -> io::Result<()> {
        if let Some(f) = &self.faults {
            Faults::trip(&f.syncs, &f.fail_sync_at, "sync")?;
        }
        self.file.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}

/// The journal directory: segment files `<seq:020>.seg` and their sealed indexes `<seq:020>.idx`.
#[derive(Debug, Clone)]
pub(crate) struct JournalDir {
    pub path: PathBuf,
    pub faults: Option<Arc<Faults>>,
}

/// Kind of file in the journal directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment,
    Index,
}

impl JournalDir {
    pub(crate) fn file_path(&self, seq: u64, kind: FileKind) -> PathBuf {
        let ext = match kind {
            FileKind::Segment => "seg",
            FileKind::Index => "idx",
        };
        self.path.join(format!("{seq:020}.{ext}"))
    }

    /// Sequence numbers of all segment files, ascending.
    pub(crate) fn list_segments(&self) -> io::Result<Vec<u64>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.path)? {
            let name = e?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".seg") {
                if stem.len() == 20 {
                    if let Ok(seq) = stem.parse::<u64>() {
                        out.push(seq);
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Opens (creating if asked) a segment file for read + write.
    pub(crate) fn open_segment(&self, seq: u64, create: bool) -> io::Result<Arc<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(self.file_path(seq, FileKind::Segment))?;
        Ok(Arc::new(FsSegment {
            file,
            faults: self.faults.clone(),
        }))
    }

    pub(crate) fn remove(&self, seq: u64, kind: FileKind) -> io::Result<()> {
        match fs::remove_file(self.file_path(seq, kind)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    pub(crate) fn read_index(&self, seq: u64) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.file_path(seq, FileKind::Index)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a sealed segment's index atomically (tmp + fsync + rename + fsync dir).
    pub(crate) fn write_index(&self, seq: u64, bytes: &[u8]) -> io::Result<()> {
        if let Some(f) = &self.faults {
            Faults::trip(&f.writes, &f.fail_write_at, "write")?;
        }
        write_atomic(&self.path, &self.file_path(seq, FileKind::Index), bytes)
    }

    pub(crate) fn sync_dir(&self) -> io::Result<()> {
        sync_dir(&self.path)
    }
}

/// fsync a directory so that creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `bytes` atomically: after a crash either the old or the new content is there, whole.
pub(crate) fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let f = File::create(&tmp)?;
        f.write_all_at(bytes, 0)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}
