//! Durable catalog: a tiny key -> bytes store for the caller's metadata, one file per key under `<dir>/catalog/`.
//!
//! Keys are arbitrary strings, so file names are their lowercase hex encoding (`k<hex>`). A value file is
//! `crc32c(value) u32 LE || value`, written as tmp + fsync + rename + fsync(dir): after a crash a key holds either its
//! old or its new value, never a mix. Catalog writes are rare (stream definitions), so simplicity beats speed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::storage::{sync_dir, write_atomic};
use crate::CatalogError;

#[derive(Debug)]
pub(crate) struct Catalog {
    dir: PathBuf,
    /// Serialises writers so two puts of one key cannot interleave their tmp files.
    write_lock: Mutex<()>,
}

fn encode_key(key: &str) -> String {
    let mut s = String::with_capacity(1 + key.len() * 2);
    s.push('k');
    for b in key.as_bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode_key(name: &str) -> Option<String> {
    let hex = name.strip_prefix('k')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Catalog {
    pub(crate) fn open(dir: &Path) -> io::Result<Catalog> {
        fs::create_dir_all(dir)?;
        // Leftover tmp files are puts that never reached their rename: they never happened.
        for e in fs::read_dir(dir)? {
            let e = e?;
            if e.file_name().to_str().is_some_and(|n| n.ends_with(".tmp")) {
                fs::remove_file(e.path())?;
            }
        }
        Ok(Catalog {
            dir: dir.to_path_buf(),
            write_lock: Mutex::new(()),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(encode_key(key))
    }

    pub(crate) fn put(&self, key: &str, value: &[u8]) -> Result<(), CatalogError> {
        let mut b = Vec::with_capacity(4 + value.len());
        b.extend_from_slice(&crc32c::crc32c(value).to_le_bytes());
        b.extend_from_slice(value);
        let _g = self.write_lock.lock();
        write_atomic(&self.dir, &self.path(key), &b)?;
        Ok(())
    }

    fn decode(key: &str, b: Vec<u8>) -> Result<Vec<u8>, CatalogError> {
        if b.len() < 4 {
            return Err(CatalogError::Corrupt(format!("{key:?}: short file")));
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[..4]);
        let value = b[4..].to_vec();
        if crc32c::crc32c(&value) != u32::from_le_bytes(crc) {
            return Err(CatalogError::Corrupt(format!("{key:?}: crc mismatch")));
        }
        Ok(value)
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CatalogError> {
        match fs::read(self.path(key)) {
            Ok(b) => Self::decode(key, b).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), CatalogError> {
        let _g = self.write_lock.lock();
        match fs::remove_file(self.path(key)) {
            Ok(()) => Ok(sync_dir(&self.dir)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, CatalogError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let Some(key) = e.file_name().to_str().and_then(decode_key) else {
                continue;
            };
            if !key.starts_with(prefix) {
                continue;
            }
            match fs::read(e.path()) {
                Ok(b) => out.push((key.clone(), Self::decode(&key, b)?)),
                // Deleted between read_dir and read.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err.into()),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_round_trips_arbitrary_strings() {
        for k in ["", "a/b", "../../etc/passwd", "ünï code", "with.tmp"] {
            let e = encode_key(k);
            assert!(e.chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(decode_key(&e).as_deref(), Some(k));
        }
        assert_eq!(decode_key("kzz"), None);
        assert_eq!(decode_key("k1"), None);
    }

    #[test]
    fn crud_survives_reopen_and_ignores_partial_writes() {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(d.path()).unwrap();
        c.put("s/a", b"one").unwrap();
        c.put("s/b", b"two").unwrap();
        c.put("t", b"three").unwrap();
        c.put("s/a", b"uno").unwrap();
        c.delete("t").unwrap();
        c.delete("never").unwrap();
        // A crash mid-put leaves only a tmp file: it must not surface and must not disturb the old value.
        fs::write(
            d.path().join(format!("{}.tmp", encode_key("s/a"))),
            b"garbage",
        )
        .unwrap();
        drop(c);
        let c = Catalog::open(d.path()).unwrap();
        assert_eq!(c.get("s/a").unwrap(), Some(b"uno".to_vec()));
        assert_eq!(c.get("t").unwrap(), None);
        assert_eq!(
            c.list("s/").unwrap(),
            vec![
                ("s/a".to_string(), b"uno".to_vec()),
                ("s/b".to_string(), b"two".to_vec())
            ]
        );
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn corrupt_value_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(d.path()).unwrap();
        c.put("k", b"value").unwrap();
        let p = d.path().join(encode_key("k"));
        let mut b = fs::read(&p).unwrap();
        b[5] ^= 1;
        fs::write(&p, b).unwrap();
        assert!(matches!(c.get("k"), Err(CatalogError::Corrupt(_))));
    }
}
