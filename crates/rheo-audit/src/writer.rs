//! The writer thread's side: lines to a file rotated by size, or to stdout.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// When the file is rotated and how many rotated files are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The live file is rotated before a line would take it past this size.
    pub max_bytes: u64,
    /// Rotated files kept (`FILE.1` the newest ... `FILE.<keep>`); older ones are deleted.
    /// With 0 the live file is simply started again.
    pub keep: usize,
}

/// Where lines go.
pub enum Sink {
    File(FileSink),
    Stdout(BufWriter<io::Stdout>),
}

impl Sink {
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        match self {
            Sink::File(f) => f.write_line(line),
            Sink::Stdout(out) => {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.file.flush(),
            Sink::Stdout(out) => out.flush(),
        }
    }
}

/// The live audit file, appended to (a restart continues it), and its rotation.
pub struct FileSink {
    path: PathBuf,
    file: BufWriter<File>,
    size: u64,
    rotation: Rotation,
}

/// `FILE.<n>`: the n-th newest rotated file.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl FileSink {
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<FileSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(FileSink {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(64 * 1024, file),
            size,
            rotation,
        })
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        // A line larger than the bound still goes into a file of its own: never split.
        if self.size > 0 && self.size + len > self.rotation.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.size += len;
        Ok(())
    }

    /// `FILE` becomes `FILE.1`, `FILE.1` becomes `FILE.2`, ..., the oldest beyond `keep` goes;
    /// a fresh `FILE` is started.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let keep = self.rotation.keep;
        if keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            match fs::remove_file(rotated(&self.path, keep)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            for n in (1..keep).rev() {
                match fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.file = BufWriter::with_capacity(64 * 1024, file);
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn rotation_keeps_n_files_and_never_splits_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.log");
        let rotation = Rotation {
            max_bytes: 25,
            keep: 2,
        };
        let mut sink = FileSink::open(&path, rotation).unwrap();
        // Ten bytes a line with its newline: two lines fit in 25 bytes, a third does not.
        for i in 0..7 {
            sink.write_line(&format!("line-{i:04}")).unwrap();
        }
        sink.file.flush().unwrap();
        assert_eq!(lines(&path), ["line-0006"]);
        assert_eq!(lines(&rotated(&path, 1)), ["line-0004", "line-0005"]);
        assert_eq!(lines(&rotated(&path, 2)), ["line-0002", "line-0003"]);
        assert!(
            !rotated(&path, 3).exists(),
            "only two rotated files are kept"
        );
        // A restart appends to the live file and counts its size.
        drop(sink);
        let mut sink = FileSink::open(&path, rotation).unwrap();
        sink.write_line("line-0007").unwrap();
        sink.write_line("a line longer than the bound itself")
            .unwrap();
        sink.file.flush().unwrap();
        assert_eq!(lines(&path), ["a line longer than the bound itself"]);
        assert_eq!(lines(&rotated(&path, 1)), ["line-0006", "line-0007"]);
    }

    #[test]
    fn keeping_no_rotated_files_starts_the_file_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut sink = FileSink::open(
            &path,
            Rotation {
                max_bytes: 15,
                keep: 0,
            },
        )
        .unwrap();
        for i in 0..3 {
            sink.write_line(&format!("line-{i:04}")).unwrap();
        }
        sink.file.flush().unwrap();
        assert_eq!(lines(&path), ["line-0002"]);
        assert!(!rotated(&path, 1).exists());
    }
}
