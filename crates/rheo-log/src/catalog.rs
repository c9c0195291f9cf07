//! Durable catalog: a tiny key -> bytes store for the caller's metadata, one file per key under `<dir>/catalog/`.
//!
//! Keys are arbitrary strings. A key whose hex encoding fits a file name is stored as `k<hex(key)>`, holding
//! `crc32c(value) u32 LE || value`. A longer key (a 128-character stream name makes a 300-character hex name, past
//! the 255 bytes file systems allow) is stored as `h<hex(md5(key))>`, holding
//! `crc32c(rest) u32 LE || rest` with `rest = key_len u32 LE || key || value`: the key is kept inside so that listing
//! can name it, and checked on read so that a hash collision can never answer for another key. Either file is
//! written as tmp + fsync + rename + fsync(dir): after a crash a key holds either its old or its new value, never a
//! mix. Catalog writes are rare (stream definitions), so simplicity beats speed.
//!
//! A damaged file never hides the others: [`Catalog::scan`] answers every good entry and names each damaged file
//! with why (see `docs/design/catalog.md`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::storage::{sync_dir, write_atomic};
use crate::CatalogError;

/// Why a catalog file could not be read as an entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CatalogDamageKind {
    /// The stored checksum does not match the bytes.
    CrcMismatch,
    /// Too short for its header, or a stored key length past the end of the file.
    BadLength,
    /// The file name is not `k<hex of a UTF-8 key>` nor `h<32 hex digits>` (a truncated or foreign name).
    UndecodableName,
    /// A hashed (`h`) file whose stored key is not UTF-8 or does not hash to the file's name.
    KeyMismatch,
    /// The file could not be read (the I/O error's text).
    Unreadable(String),
}

impl std::fmt::Display for CatalogDamageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogDamageKind::CrcMismatch => f.write_str("crc mismatch"),
            CatalogDamageKind::BadLength => f.write_str("bad length"),
            CatalogDamageKind::UndecodableName => f.write_str("undecodable file name"),
            CatalogDamageKind::KeyMismatch => {
                f.write_str("stored key does not match the file name")
            }
            CatalogDamageKind::Unreadable(e) => write!(f, "unreadable: {e}"),
        }
    }
}

/// One damaged catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogDamage {
    /// The file's name in the catalog directory (in memory mode, never produced).
    pub file: String,
    /// The key, when the file name says it (`k` names). `None` for hashed names (the key is inside the damaged
    /// file, so it cannot be trusted) and undecodable names.
    pub key: Option<String>,
    /// What is wrong.
    pub kind: CatalogDamageKind,
}

impl std::fmt::Display for CatalogDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "catalog file {} (key {key:?}): {}", self.file, self.kind),
            None => write!(f, "catalog file {}: {}", self.file, self.kind),
        }
    }
}

/// What [`Catalog::scan`] found under a prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogScan {
    /// Every good entry whose key starts with the prefix, sorted by key.
    pub entries: Vec<(String, Vec<u8>)>,
    /// Every damaged file that is, or may be, under the prefix, sorted by file name. A file whose key is unknown
    /// (hashed or undecodable name) is reported by every scan, whatever its prefix: it may be the caller's.
    pub damaged: Vec<CatalogDamage>,
}

#[derive(Debug)]
pub(crate) struct Catalog {
    dir: PathBuf,
    /// Serialises writers so two puts of one key cannot interleave their tmp files.
    write_lock: Mutex<()>,
}

/// Directory beside `catalog/` where damaged catalog files are copied before a repair removes or replaces them.
pub const QUARANTINE_DIR: &str = "catalog-quarantine";

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

/// The catalog file name that holds `key` (`k<hex>` or `h<md5 hex>`), for callers that must name a file.
pub fn catalog_file_name(key: &str) -> String {
    encode_key(key)
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

    fn decode(key: &str, name: &str, b: &[u8]) -> Result<Vec<u8>, CatalogError> {
        let named = (!is_hashed(key)).then_some(key);
        match Self::check_file(name, named, b) {
            Ok((stored, value)) if stored == key => Ok(value),
            Ok(_) => Err(CatalogError::Corrupt(format!(
                "catalog file {name} holds another key"
            ))),
            Err(kind) => Err(CatalogError::Corrupt(format!(
                "catalog file {name}: {kind}"
            ))),
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

    /// The catalog directory's sibling where damaged files are set aside.
    fn quarantine_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .map_or_else(|| self.dir.join(QUARANTINE_DIR), |p| p.join(QUARANTINE_DIR))
    }

    /// A plain file name of the catalog directory (never a path leading elsewhere).
    fn file_path(&self, file: &str) -> Result<PathBuf, CatalogError> {
        if file.is_empty()
            || file.contains('/')
            || file == "."
            || file == ".."
            || file.ends_with(".tmp")
        {
            return Err(CatalogError::Corrupt(format!(
                "{file:?} is not a catalog file name"
            )));
        }
        Ok(self.dir.join(file))
    }

    /// Copies catalog file `file` (durably) to `catalog-quarantine/<file>` beside the catalog, or `<file>.<n>` when
    /// that name holds other bytes; a copy holding the same bytes is reused, so a rerun after a crash adds nothing.
    /// The catalog file itself is left in place. Returns the copy's path relative to the store directory.
    pub(crate) fn quarantine(&self, file: &str) -> Result<String, CatalogError> {
        let bytes = fs::read(self.file_path(file)?)?;
        let qdir = self.quarantine_dir();
        fs::create_dir_all(&qdir)?;
        for n in 0u32.. {
            let name = if n == 0 {
                file.to_string()
            } else {
                format!("{file}.{n}")
            };
            let path = qdir.join(&name);
            match fs::read(&path) {
                Ok(old) if old == bytes => return Ok(format!("{QUARANTINE_DIR}/{name}")),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    write_atomic(&qdir, &path, &bytes)?;
                    if let Some(parent) = qdir.parent() {
                        sync_dir(parent)?;
                    }
                    return Ok(format!("{QUARANTINE_DIR}/{name}"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CatalogError::Corrupt(format!(
            "no free quarantine name for {file}"
        )))
    }

    /// Removes catalog file `file` by its file name (damaged files whose key is unknown), durably.
    pub(crate) fn remove_file(&self, file: &str) -> Result<(), CatalogError> {
        let path = self.file_path(file)?;
        let _g = self.write_lock.lock();
        match fs::remove_file(path) {
            Ok(()) => Ok(sync_dir(&self.dir)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The checked entry of file `name`: (key, value), or why it is damaged. `named` is the key its name says
    /// (`k` names); `None` for an `h` name.
    fn check_file(
        name: &str,
        named: Option<&str>,
        b: &[u8],
    ) -> Result<(String, Vec<u8>), CatalogDamageKind> {
        let (crc, rest) = b
            .split_first_chunk::<4>()
            .ok_or(CatalogDamageKind::BadLength)?;
        if crc32c::crc32c(rest) != u32::from_le_bytes(*crc) {
            return Err(CatalogDamageKind::CrcMismatch);
        }
        if let Some(key) = named {
            return Ok((key.to_string(), rest.to_vec()));
        }
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(CatalogDamageKind::BadLength)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(CatalogDamageKind::BadLength);
        }
        let (key, value) = rest.split_at(len);
        let key = String::from_utf8(key.to_vec()).map_err(|_| CatalogDamageKind::KeyMismatch)?;
        // A file copied or renamed onto another key's hash name would otherwise answer for a key it is not.
        if !is_hashed(&key) || encode_key(&key) != name {
            return Err(CatalogDamageKind::KeyMismatch);
        }
        Ok((key, value.to_vec()))
    }

    /// Every good entry under `prefix` and every damaged file of catalog directory `dir`, one by one: a damaged
    /// file never stops the listing. Only the directory itself failing to list is an error. Reads only, so fsck
    /// uses it on a stopped store. A missing directory is an empty catalog.
    pub(crate) fn scan_dir(dir: &Path, prefix: &str) -> io::Result<CatalogScan> {
        let mut scan = CatalogScan::default();
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(scan),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let os_name = e.file_name();
            let name = os_name.to_string_lossy().into_owned();
            // In-flight puts (or, before open's cleanup, puts that never happened).
            if name.ends_with(".tmp") {
                continue;
            }
            let named = decode_key(&name);
            if named.is_none() && !is_hash_name(&name) {
                scan.damaged.push(CatalogDamage {
                    file: name,
                    key: None,
                    kind: CatalogDamageKind::UndecodableName,
                });
                continue;
            }
            if named.as_deref().is_some_and(|k| !k.starts_with(prefix)) {
                continue;
            }
            let b = match fs::read(e.path()) {
                Ok(b) => b,
                // Deleted between read_dir and read.
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => {
                    scan.damaged.push(CatalogDamage {
                        file: name,
                        key: named,
                        kind: CatalogDamageKind::Unreadable(err.to_string()),
                    });
                    continue;
                }
            };
            match Self::check_file(&name, named.as_deref(), &b) {
                Ok((key, value)) => {
                    if key.starts_with(prefix) {
                        scan.entries.push((key, value));
                    }
                }
                Err(kind) => scan.damaged.push(CatalogDamage {
                    file: name,
                    key: named,
                    kind,
                }),
            }
        }
        scan.entries.sort_by(|a, b| a.0.cmp(&b.0));
        scan.damaged.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(scan)
    }

    pub(crate) fn scan(&self, prefix: &str) -> Result<CatalogScan, CatalogError> {
        Ok(Self::scan_dir(&self.dir, prefix)?)
    }

    /// [`Catalog::scan`] that fails on the first damaged file under `prefix` (kept for callers that cannot
    /// isolate damage).
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, CatalogError> {
        let scan = self.scan(prefix)?;
        if let Some(d) = scan.damaged.first() {
            return Err(CatalogError::Corrupt(d.to_string()));
        }
        Ok(scan.entries)
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

    fn flip(path: &Path, at: usize) {
        let mut b = fs::read(path).unwrap();
        b[at] ^= 0x10;
        fs::write(path, b).unwrap();
    }

    #[test]
    fn scan_reports_each_damaged_file_and_answers_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(d.path()).unwrap();
        for k in ["s/a", "s/b", "s/c", "s/d", "t/x"] {
            c.put(k, k.as_bytes()).unwrap();
        }
        let long_a = format!("s/{}", "a".repeat(150));
        let long_b = format!("s/{}", "b".repeat(150));
        let long_c = format!("s/{}", "c".repeat(150));
        c.put(&long_a, b"long a").unwrap();
        c.put(&long_b, b"long b").unwrap();
        c.put(&long_c, b"long c").unwrap();
        flip(&d.path().join(encode_key("s/b")), 5);
        fs::write(d.path().join(encode_key("s/c")), [1u8, 2]).unwrap();
        flip(&d.path().join(encode_key("t/x")), 4);
        // long_b's name holding long_a's (internally valid) file.
        fs::copy(
            d.path().join(encode_key(&long_a)),
            d.path().join(encode_key(&long_b)),
        )
        .unwrap();
        // long_c: a stored key length past the end, under a valid checksum.
        let mut rest = 1000u32.to_le_bytes().to_vec();
        rest.extend_from_slice(b"short");
        let mut b = crc32c::crc32c(&rest).to_le_bytes().to_vec();
        b.extend_from_slice(&rest);
        fs::write(d.path().join(encode_key(&long_c)), b).unwrap();
        // A truncated name (odd hex), a non-hex one, a foreign file; a tmp file is an unfinished put, not damage.
        let trunc = encode_key("s/e");
        fs::write(d.path().join(&trunc[..trunc.len() - 1]), b"x").unwrap();
        fs::write(d.path().join("kzz"), b"x").unwrap();
        fs::write(d.path().join("garbage"), b"x").unwrap();
        fs::write(d.path().join(format!("{}.tmp", encode_key("s/f"))), b"x").unwrap();

        let scan = c.scan("s/").unwrap();
        let mut want = vec![
            ("s/a".to_string(), b"s/a".to_vec()),
            ("s/d".to_string(), b"s/d".to_vec()),
            (long_a.clone(), b"long a".to_vec()),
        ];
        want.sort();
        assert_eq!(scan.entries, want);
        let mut damaged: Vec<(String, Option<String>, CatalogDamageKind)> = scan
            .damaged
            .iter()
            .map(|d| (d.file.clone(), d.key.clone(), d.kind.clone()))
            .collect();
        let mut expected = vec![
            (
                encode_key("s/b"),
                Some("s/b".to_string()),
                CatalogDamageKind::CrcMismatch,
            ),
            (
                encode_key("s/c"),
                Some("s/c".to_string()),
                CatalogDamageKind::BadLength,
            ),
            (encode_key(&long_b), None, CatalogDamageKind::KeyMismatch),
            (encode_key(&long_c), None, CatalogDamageKind::BadLength),
            (
                trunc[..trunc.len() - 1].to_string(),
                None,
                CatalogDamageKind::UndecodableName,
            ),
            ("kzz".to_string(), None, CatalogDamageKind::UndecodableName),
            (
                "garbage".to_string(),
                None,
                CatalogDamageKind::UndecodableName,
            ),
        ];
        damaged.sort();
        expected.sort();
        // t/x is damaged too, but its name puts it outside "s/".
        assert_eq!(damaged, expected);
        assert!(c
            .scan("t/")
            .unwrap()
            .damaged
            .iter()
            .any(|d| d.key.as_deref() == Some("t/x")));
        // The strict listing refuses; nothing was rewritten by scanning.
        assert!(matches!(c.list("s/"), Err(CatalogError::Corrupt(_))));
        assert_eq!(
            fs::read(d.path().join(encode_key("s/c"))).unwrap(),
            vec![1u8, 2]
        );
        // get agrees with scan on every damaged key.
        for k in ["s/b", "s/c", long_b.as_str(), long_c.as_str()] {
            assert!(matches!(c.get(k), Err(CatalogError::Corrupt(_))), "{k}");
        }
    }

    #[test]
    fn quarantine_copies_once_and_remove_file_removes() {
        let root = tempfile::tempdir().unwrap();
        let c = Catalog::open(&root.path().join("catalog")).unwrap();
        c.put("s/a", b"value").unwrap();
        let file = encode_key("s/a");
        flip(&root.path().join("catalog").join(&file), 5);
        let q = c.quarantine(&file).unwrap();
        assert_eq!(q, format!("{QUARANTINE_DIR}/{file}"));
        assert_eq!(
            c.quarantine(&file).unwrap(),
            q,
            "same bytes: the copy is reused"
        );
        let copy = fs::read(root.path().join(&q)).unwrap();
        assert_eq!(
            copy,
            fs::read(root.path().join("catalog").join(&file)).unwrap()
        );
        // Other bytes under the same name get their own copy.
        c.put("s/a", b"other").unwrap();
        assert_eq!(
            c.quarantine(&file).unwrap(),
            format!("{QUARANTINE_DIR}/{file}.1")
        );
        c.remove_file(&file).unwrap();
        assert_eq!(c.get("s/a").unwrap(), None);
        assert!(c.quarantine("../x").is_err());
        assert!(c.remove_file("a/b").is_err());
        assert_eq!(fs::read(root.path().join(&q)).unwrap(), copy);
    }
}
