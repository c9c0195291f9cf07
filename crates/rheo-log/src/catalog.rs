//! Durable catalog: a tiny key -> bytes store for the caller's metadata, one file per key under `<dir>/catalog/`.
//!
//! Keys are arbitrary strings. A key whose hex encoding fits a file name is stored as `k<hex(key)>`, holding
//! `crc32c(value) u32 LE || value`. A longer key (a 128-character stream name makes a 300-character hex name, past
//! the 255 bytes file systems allow) is stored as `h<hex(md5(key))>`, holding
//! `crc32c(rest) u32 LE || rest` with `rest = key_len u32 LE || key || value`: the key is kept inside so that listing
//! can name it, and checked on read so that a hash collision can never answer for another key. Either file is
//! written as tmp + fsync + rename + fsync(dir): after a crash a key holds either its old or its new value, never a
//! mix. Catalog writes are rare (stream definitions), so simplicity beats speed.

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

/// Longest file name the catalog writes: below the 255 bytes of ext4, XFS and tmpfs, with room for `.tmp`.
const FILE_NAME_BYTES_MAX: usize = 200;

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `key` is stored under a hash of itself (and carries its name inside the file).
fn is_hashed(key: &str) -> bool {
    1 + 2 * key.len() > FILE_NAME_BYTES_MAX
}

fn encode_key(key: &str) -> String {
    if is_hashed(key) {
        use md5::{Digest, Md5};
        format!("h{}", hex(&Md5::digest(key.as_bytes())))
    } else {
        format!("k{}", hex(key.as_bytes()))
    }
}

fn is_hash_name(name: &str) -> bool {
    name.len() == 33 && name.starts_with('h') && name.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
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
        let mut rest = Vec::with_capacity(4 + key.len() + value.len());
        if is_hashed(key) {
            let key_len = u32::try_from(key.len())
                .map_err(|_| CatalogError::Corrupt(format!("key of {} bytes", key.len())))?;
            rest.extend_from_slice(&key_len.to_le_bytes());
            rest.extend_from_slice(key.as_bytes());
        }
        rest.extend_from_slice(value);
        let mut b = Vec::with_capacity(4 + rest.len());
        b.extend_from_slice(&crc32c::crc32c(&rest).to_le_bytes());
        b.extend_from_slice(&rest);
        let _g = self.write_lock.lock();
        write_atomic(&self.dir, &self.path(key), &b)?;
        Ok(())
    }

    /// The checked contents of a file: for a `k` file the value; for an `h` file the key stored
    /// in it and the value.
    fn decode_file(name: &str, b: &[u8]) -> Result<(Option<String>, Vec<u8>), CatalogError> {
        let corrupt = |what: &str| CatalogError::Corrupt(format!("catalog file {name}: {what}"));
        let (crc, rest) = b
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("short file"))?;
        if crc32c::crc32c(rest) != u32::from_le_bytes(*crc) {
            return Err(corrupt("crc mismatch"));
        }
        if !name.starts_with('h') {
            return Ok((None, rest.to_vec()));
        }
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("short file"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(corrupt("key longer than the file"));
        }
        let (key, value) = rest.split_at(len);
        let key = String::from_utf8(key.to_vec()).map_err(|_| corrupt("key is not UTF-8"))?;
        Ok((Some(key), value.to_vec()))
    }

    fn decode(key: &str, name: &str, b: &[u8]) -> Result<Vec<u8>, CatalogError> {
        let (stored, value) = Self::decode_file(name, b)?;
        match stored {
            Some(stored) if stored != key => Err(CatalogError::Corrupt(format!(
                "catalog file {name} holds another key"
            ))),
            _ => Ok(value),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CatalogError> {
        match fs::read(self.path(key)) {
            Ok(b) => Self::decode(key, &encode_key(key), &b).map(Some),
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

    /// Every catalog file of `dir` that fails its checks, with why (for fsck; reads only).
    pub(crate) fn verify(dir: &Path) -> io::Result<Vec<(String, String)>> {
        let mut bad = Vec::new();
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(bad),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let name = e.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if decode_key(name).is_none() && !is_hash_name(name) {
                continue;
            }
            let b = fs::read(e.path())?;
            if let Err(err) = Self::decode_file(name, &b) {
                bad.push((name.to_string(), err.to_string()));
            }
        }
        bad.sort();
        Ok(bad)
    }

    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, CatalogError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            // A `k` name says its key; an `h` name's key is inside the file.
            let named = decode_key(name);
            if named.is_none() && !is_hash_name(name) {
                continue;
            }
            if named.as_deref().is_some_and(|k| !k.starts_with(prefix)) {
                continue;
            }
            match fs::read(e.path()) {
                Ok(b) => {
                    let (stored, value) = Self::decode_file(name, &b)?;
                    let Some(key) = named.or(stored) else {
                        continue;
                    };
                    if key.starts_with(prefix) {
                        out.push((key, value));
                    }
                }
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
    fn long_keys_get_hashed_names_and_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(d.path()).unwrap();
        let long = format!("stream/us-east-1/{}", "n".repeat(128));
        let longer = format!("stream/us-east-1/{}", "m".repeat(1000));
        c.put(&long, b"one").unwrap();
        c.put(&longer, b"two").unwrap();
        c.put("stream/short", b"three").unwrap();
        for e in fs::read_dir(d.path()).unwrap() {
            let name = e.unwrap().file_name();
            assert!(name.len() <= FILE_NAME_BYTES_MAX, "{name:?}");
        }
        drop(c);
        let c = Catalog::open(d.path()).unwrap();
        assert_eq!(c.get(&long).unwrap(), Some(b"one".to_vec()));
        assert_eq!(c.get(&longer).unwrap(), Some(b"two".to_vec()));
        let mut want = vec![
            (long.clone(), b"one".to_vec()),
            (longer.clone(), b"two".to_vec()),
            ("stream/short".to_string(), b"three".to_vec()),
        ];
        want.sort();
        assert_eq!(c.list("stream/").unwrap(), want);
        assert_eq!(c.list("other/").unwrap(), vec![]);
        c.delete(&long).unwrap();
        assert_eq!(c.get(&long).unwrap(), None);
        assert_eq!(c.list("stream/").unwrap().len(), 2);
    }

    #[test]
    fn hashed_file_holding_another_key_is_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(d.path()).unwrap();
        let a = "a".repeat(150);
        let b = "b".repeat(150);
        c.put(&a, b"value").unwrap();
        // As if two keys hashed alike: b's name holding a's file.
        fs::copy(d.path().join(encode_key(&a)), d.path().join(encode_key(&b))).unwrap();
        assert!(matches!(c.get(&b), Err(CatalogError::Corrupt(_))));
        assert_eq!(c.get(&a).unwrap(), Some(b"value".to_vec()));
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
