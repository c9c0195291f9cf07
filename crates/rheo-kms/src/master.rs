//! The master key: the one secret that wraps every key's material at rest.
//!
//! Kept in `<data-dir>/kms/master.key` (created with mode 0600 on first start) or in a file the
//! operator names; with an in-memory store it is ephemeral. Its bytes never reach a log line:
//! `Debug` prints nothing of it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use zeroize::Zeroizing;

/// Bytes of an AES-256 key.
pub const KEY_BYTES: usize = 32;
/// Bytes of an AES-GCM nonce.
pub(crate) const NONCE_BYTES: usize = 12;
/// Bytes of an AES-GCM tag.
pub(crate) const TAG_BYTES: usize = 16;

/// Why the master key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("cannot read the KMS master key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the KMS master key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the KMS master key {path} is not 32 bytes or 64 hex digits")]
    Format { path: PathBuf },
}

/// The master key. Cheap to clone (the cipher is rebuilt per use from the zeroized bytes).
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_BYTES]>,
    /// Where it came from, for the ready line (never its bytes).
    origin: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The default master key file under a data directory.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("kms").join("master.key")
}

impl MasterKey {
    /// A fresh random key that lives as long as the process (for `--in-memory`).
    pub fn ephemeral() -> MasterKey {
        MasterKey {
            bytes: random_key(),
            origin: "ephemeral".to_string(),
        }
    }

    /// The key in `path` (32 raw bytes, or 64 hex digits with optional surrounding
    /// whitespace).
    pub fn from_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let raw = Zeroizing::new(std::fs::read(path).map_err(|source| MasterKeyError::Read {
            path: path.to_path_buf(),
            source,
        })?);
        let bytes = parse(&raw).ok_or_else(|| MasterKeyError::Format {
            path: path.to_path_buf(),
        })?;
        warn_if_readable_by_others(path);
        Ok(MasterKey {
            bytes,
            origin: path.display().to_string(),
        })
    }

    /// The key in `path`, created (64 hex digits, mode 0600, parent directory made) if the file
    /// does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, MasterKeyError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => return MasterKey::from_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(MasterKeyError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let create = |source| MasterKeyError::Create {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(create)?;
        }
        let bytes = random_key();
        let hex = Zeroizing::new(to_hex(bytes.as_slice()));
        // Written to a temporary name and renamed, so a crash never leaves a short key file that
        // the next start would refuse (or worse, a key that wrapped nothing durable).
        let tmp = path.with_extension("key.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = open_private(&tmp).map_err(create)?;
        file.write_all(hex.as_bytes()).map_err(create)?;
        file.write_all(b"\n").map_err(create)?;
        file.sync_all().map_err(create)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(create)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        tracing::info!(path = %path.display(), "created the KMS master key");
        Ok(MasterKey {
            bytes,
            origin: path.display().to_string(),
        })
    }

    /// Where the key came from (a path, or `ephemeral`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `nonce || ciphertext+tag` of `plaintext`, bound to `aad`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, aes_gcm::Error> {
        seal(&self.bytes, plaintext, aad)
    }

    /// The plaintext of [`MasterKey::seal`]'s output, if it was sealed by this key with `aad`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        open(&self.bytes, sealed, aad)
    }
}

/// AES-256-GCM with a fresh random 96-bit nonce: `nonce || ciphertext+tag`.
pub(crate) fn seal(
    key: &[u8; KEY_BYTES],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher.encrypt(
        &nonce,
        Payload {
            msg: plaintext,
            aad,
        },
    )?;
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(nonce.as_slice());
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The inverse of [`seal`]; `None` if the bytes are short, altered, or sealed with another key or
/// `aad`.
pub(crate) fn open(key: &[u8; KEY_BYTES], sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
        .ok()
        .map(Zeroizing::new)
}

/// 32 bytes from the operating system's generator.
pub(crate) fn random_key() -> Zeroizing<[u8; KEY_BYTES]> {
    let key = Aes256Gcm::generate_key(&mut OsRng);
    let mut out = Zeroizing::new([0u8; KEY_BYTES]);
    out.copy_from_slice(key.as_slice());
    out
}

/// `n` bytes from the operating system's generator.
pub(crate) fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    use aes_gcm::aead::rand_core::RngCore as _;
    let mut out = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut out);
    out
}

fn parse(raw: &[u8]) -> Option<Zeroizing<[u8; KEY_BYTES]>> {
    let mut out = Zeroizing::new([0u8; KEY_BYTES]);
    if raw.len() == KEY_BYTES {
        out.copy_from_slice(raw);
        return Some(out);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.len() != 2 * KEY_BYTES {
        return None;
    }
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let hi = (pair.first()?.to_ascii_lowercase() as char).to_digit(16)?;
        let lo = (pair.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
        *out.get_mut(i)? = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the KMS master key file is readable by others than its owner (chmod 600 it)"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path());
        let a = MasterKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(*a.bytes, *b.bytes);
        let sealed = a.seal(b"material", b"aad").unwrap();
        assert_eq!(b.open(&sealed, b"aad").unwrap().as_slice(), b"material");
        assert!(b.open(&sealed, b"other aad").is_none());
        assert!(MasterKey::ephemeral().open(&sealed, b"aad").is_none());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = MasterKey::ephemeral();
        let shown = format!("{key:?}");
        assert!(shown.contains("ephemeral"));
        assert!(!shown.contains(&to_hex(key.bytes.as_slice())));
    }

    #[test]
    fn files_of_raw_bytes_or_hex_load_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        assert_eq!(*MasterKey::from_file(&raw).unwrap().bytes, [7u8; 32]);
        let hex = dir.path().join("hex");
        std::fs::write(&hex, format!("{}\n", "0A".repeat(32))).unwrap();
        assert_eq!(*MasterKey::from_file(&hex).unwrap().bytes, [10u8; 32]);
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        assert!(matches!(
            MasterKey::from_file(&bad),
            Err(MasterKeyError::Format { .. })
        ));
        assert!(matches!(
            MasterKey::from_file(&dir.path().join("missing")),
            Err(MasterKeyError::Read { .. })
        ));
    }

    #[test]
    fn every_seal_takes_a_fresh_nonce() {
        let key = random_key();
        let a = seal(&key, b"same", b"").unwrap();
        let b = seal(&key, b"same", b"").unwrap();
        assert_ne!(a[..NONCE_BYTES], b[..NONCE_BYTES]);
        assert_ne!(a, b);
    }
}
