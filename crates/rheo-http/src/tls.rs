//! TLS for the listener: a rustls server configuration built from a PEM certificate chain and
//! key, offering HTTP/2 and HTTP/1.1 by ALPN, and the marker a request carries when it came
//! over TLS.
//!
//! The ring provider is named explicitly (not installed process-wide), so nothing else in the
//! process has to agree on a default provider and a second configuration cannot race the first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its handshake before the connection (and its slot
/// under the connection bound) is given up: a peer that opens a socket and says nothing, or
/// speaks something else, must not hold a slot for longer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN protocols offered, in the server's order of preference.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} is not PEM: {message}")]
    Pem { what: String, message: String },
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    #[error("the certificate and key cannot serve TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS server configuration, cheap to clone (one shared rustls config).
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

impl TlsConfig {
    /// Reads the certificate chain (leaf first, as PEM `CERTIFICATE` blocks) and its private key
    /// (PKCS#8, PKCS#1 or SEC1 PEM).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        TlsConfig::from_pem(
            &read(cert)?,
            &cert.display().to_string(),
            &read(key)?,
            &key.display().to_string(),
        )
    }

    /// The same from PEM text in memory; `cert_name` and `key_name` only name them in errors.
    pub fn from_pem(
        cert_pem: &[u8],
        cert_name: &str,
        key_pem: &[u8],
        key_name: &str,
    ) -> Result<TlsConfig, TlsError> {
        let pem_error = |what: &str, e: rustls::pki_types::pem::Error| TlsError::Pem {
            what: what.to_string(),
            message: e.to_string(),
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(cert_name, e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert_name.to_string()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_error(key_name, e))?;
        // rustls 0.23.48 marks the ring provider deprecated because it has no post-quantum key
        // exchange (X25519MLKEM768). Kept on purpose: it builds with the C compiler alone
        // (aws-lc-rs adds a large C build to every clean build), and its X25519/P-256 TLS 1.3
        // is what every AWS SDK negotiates. Moving is the workspace's `rustls` feature flag.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// Carried in the extensions of every request that came over TLS: the front reads it to set
/// `RequestContext::secure_transport` (`aws:SecureTransport`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// The protocol agreed by ALPN (`h2`, `http/1.1`), if the client offered any.
    pub alpn: Option<Vec<u8>>,
}

impl Tls {
    /// Whether this request came over TLS.
    pub fn of<B>(req: &http::Request<B>) -> bool {
        req.extensions().get::<Tls>().is_some()
    }
}
