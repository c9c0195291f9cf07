//! The TLS port's certificate: the operator's files, or a local CA and a server certificate
//! signed by it, generated on first start into a directory (`<data-dir>/tls/` by default) and
//! reused afterwards, and `rheo cert`, which prints that CA for clients to trust.
//!
//! The CA key is kept (`ca-key.pem`, mode 0600) beside the CA: the server certificate can then
//! be re-issued under the same CA (another `--tls-san`, a renamed host, an approaching expiry)
//! without every client having to trust a new CA. A CA key on the server's own disk signs only
//! what that server would serve anyway; whoever can read it can read the server key too.

use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// The TLS port when `--tls-port` names none (the plain port is 4567).
pub const TLS_PORT_DEFAULT: u16 = 4568;

pub const CA_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca-key.pem";
pub const CERT_FILE: &str = "server.pem";
pub const KEY_FILE: &str = "server-key.pem";

/// How long the generated CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// How long a generated server certificate is valid: the longest that Apple's and the
/// browsers' clients accept, so that one certificate works for every client.
const SERVER_VALIDITY: Duration = Duration::days(397);
/// A server certificate with less than this left is re-issued at start.
const RENEW_BEFORE: Duration = Duration::days(30);

/// The certificate files a TLS port serves, and whether this start made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// What this start did: generated a CA (and certificate), re-issued the certificate, or
    /// reused both.
    pub made: Made,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Ca,
    Certificate,
    Nothing,
}

/// The names every generated certificate carries, then the host's name and `extra`, each once.
pub fn names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_ascii_lowercase());
    for name in host.into_iter().chain(extra.iter().cloned()) {
        if !name.is_empty() && !names.iter().any(|n| same_name(n, &name)) {
            names.push(name);
        }
    }
    names
}

fn same_name(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        (Err(_), Err(_)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// A `--tls-san` value a certificate can carry: an IP address or a DNS name (letters, digits,
/// `-`, `.`, a leading `*.` for a wildcard).
pub fn check_san(name: &str) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let labels = name.strip_prefix("*.").unwrap_or(name);
    let ok = !labels.is_empty()
        && labels.len() <= 253
        && labels.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is neither an IP address nor a DNS name (letters, digits, '-', '.')"
        ))
    }
}

/// The CA and a server certificate for `names` in `dir`: reused when present and still good
/// for 30 days and all the names, otherwise (re-)issued; the CA is made only when absent.
pub fn ensure(dir: &Path, names: &[String]) -> anyhow::Result<Material> {
    create_private_dir(dir)?;
    let ca_path = dir.join(CA_FILE);
    let ca_key_path = dir.join(CA_KEY_FILE);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let material = |made| Material {
        ca: ca_path.clone(),
        cert: cert_path.clone(),
        key: key_path.clone(),
        made,
    };
    let now = OffsetDateTime::now_utc();
    let (ca_pem, ca_key, made_ca) = match (ca_path.exists(), ca_key_path.exists()) {
        (true, true) => {
            let pem = read(&ca_path)?;
            let key = KeyPair::from_pem(&read(&ca_key_path)?)
                .with_context(|| format!("{} is not a private key", ca_key_path.display()))?;
            (pem, key, false)
        }
        (false, false) => {
            let key = KeyPair::generate().context("generating the CA key")?;
            let cert = ca_params(now)?
                .self_signed(&key)
                .context("signing the CA certificate")?;
            write_file(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
            write_file(&ca_path, cert.pem().as_bytes(), false)?;
            (cert.pem(), key, true)
        }
        // Never replace half a CA: clients may trust the half that is left.
        (true, false) => {
            return Err(anyhow!(
                "{} exists without its key {}: restore the key, or remove the directory to start a new CA",
                ca_path.display(),
                ca_key_path.display()
            ))
        }
        (false, true) => {
            return Err(anyhow!(
                "{} exists without its certificate {}: restore it, or remove the directory to start a new CA",
                ca_key_path.display(),
                ca_path.display()
            ))
        }
    };
    if !made_ca && key_path.exists() && cert_path.exists() {
        let reason = still_good(&read(&cert_path)?, &ca_pem, names, now + RENEW_BEFORE);
        match reason {
            Ok(()) => return Ok(material(Made::Nothing)),
            Err(why) => {
                tracing::info!(certificate = %cert_path.display(), %why, "re-issuing the TLS certificate")
            }
        }
    }
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
        .with_context(|| format!("{} is not a CA certificate", ca_path.display()))?;
    let key = KeyPair::generate().context("generating the server key")?;
    let cert = server_params(names, now)?
        .signed_by(&key, &issuer)
        .context("signing the server certificate")?;
    write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(&cert_path, cert.pem().as_bytes(), false)?;
    Ok(material(if made_ca { Made::Ca } else { Made::Certificate }))
}

fn ca_params(now: OffsetDateTime) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Rheo");
    // A random suffix: two servers' CAs must not share a name, or a client trusting both
    // could not tell which one signed a certificate.
    dn.push(
        DnType::CommonName,
        format!("Rheo local CA {:08x}", rand::random::<u32>()),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(1);
    params.not_after = now + CA_VALIDITY;
    Ok(params)
}

fn server_params(names: &[String], now: OffsetDateTime) -> anyhow::Result<CertificateParams> {
    let mut params =
        CertificateParams::new(names.to_vec()).context("the certificate's names (--tls-san)")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Rheo");
    dn.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    // Clients reject a certificate from the future: a day of slack for skewed clocks.
    params.not_before = now - Duration::days(1);
    params.not_after = now + SERVER_VALIDITY;
    Ok(params)
}

/// Whether the server certificate `cert_pem` was issued by `ca_pem`, is valid until `until`
/// and names every one of `names`; if not, why.
fn still_good(
    cert_pem: &str,
    ca_pem: &str,
    names: &[String],
    until: OffsetDateTime,
) -> Result<(), String> {
    let der = |pem: &str| {
        CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| format!("not PEM: {e}"))
    };
    let cert_der = der(cert_pem)?;
    let ca_der = der(ca_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
        .map_err(|e| format!("not a certificate: {e}"))?;
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| format!("the CA is not a certificate: {e}"))?;
    if cert.issuer().as_raw() != ca.subject().as_raw() {
        return Err("not issued by the CA beside it".into());
    }
    if cert.validity().not_after.timestamp() < until.unix_timestamp() {
        return Err("expires within 30 days".into());
    }
    let sans = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subject alternative names: {e}"))?
        .map(|ext| ext.value.general_names.clone())
        .unwrap_or_default();
    for name in names {
        let carried = sans.iter().any(|g| match (g, name.parse::<IpAddr>()) {
            (x509_parser::extensions::GeneralName::DNSName(d), Err(_)) => {
                d.eq_ignore_ascii_case(name)
            }
            (x509_parser::extensions::GeneralName::IPAddress(bytes), Ok(ip)) => match ip {
                IpAddr::V4(v4) => *bytes == v4.octets(),
                IpAddr::V6(v6) => *bytes == v6.octets(),
            },
            _ => false,
        });
        if !carried {
            return Err(format!("does not name {name}"));
        }
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Writes `path` whole or not at all (a temporary file renamed over it); a key file is created
/// with mode 0600, so it is never readable by others, not even for a moment.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if secret { 0o600 } else { 0o644 });
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    written
        .and_then(|()| fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// Where the generated certificates of a server are: `--tls-dir`, else `<data-dir>/tls`.
pub fn dir_of(tls_dir: Option<&Path>, data_dir: Option<&Path>) -> Option<PathBuf> {
    tls_dir
        .map(Path::to_path_buf)
        .or_else(|| data_dir.map(|d| d.join("tls")))
}

/// `rheo cert`: prints the generated CA so that clients can trust it.
#[derive(clap::Args, Debug)]
pub struct CertArgs {
    /// Data directory of the server whose CA to print [default: ./rheo-data].
    #[arg(long, env = "RHEO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's --tls-dir, if it was given one (overrides <data-dir>/tls).
    #[arg(long, env = "RHEO_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
}

pub fn print_ca(args: &CertArgs) -> anyhow::Result<()> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("rheo-data"));
    let dir = dir_of(args.tls_dir.as_deref(), Some(&data_dir)).unwrap_or(data_dir);
    let path = dir.join(CA_FILE);
    let pem = fs::read_to_string(&path).map_err(|e| {
        anyhow!(
            "no CA at {} ({e}): start `rheo serve --tls on` with this data directory once to generate it",
            path.display()
        )
    })?;
    print!("{pem}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn names_of(extra: &[&str]) -> Vec<String> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        names(&extra)
    }

    #[test]
    fn first_start_makes_a_ca_and_a_certificate_that_later_starts_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let names = names_of(&[]);
        let first = ensure(&tls, &names).unwrap();
        assert_eq!(first.made, Made::Ca);
        for file in [CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE] {
            assert!(tls.join(file).exists(), "{file}");
        }
        assert_eq!(mode(&tls.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&tls.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&tls), 0o700);
        let ca = fs::read(&first.ca).unwrap();
        let cert = fs::read(&first.cert).unwrap();
        // The certificate is the CA's, for the usual local names, and serves TLS.
        let cert_text = String::from_utf8(cert.clone()).unwrap();
        let ca_text = String::from_utf8(ca.clone()).unwrap();
        assert_eq!(
            still_good(&cert_text, &ca_text, &names, OffsetDateTime::now_utc()),
            Ok(())
        );
        rheo_http::TlsConfig::from_pem_files(&first.cert, &first.key).unwrap();

        let again = ensure(&tls, &names).unwrap();
        assert_eq!(again.made, Made::Nothing);
        assert_eq!(fs::read(&again.ca).unwrap(), ca);
        assert_eq!(fs::read(&again.cert).unwrap(), cert);
    }

    #[test]
    fn a_new_name_reissues_the_certificate_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path(), &names_of(&[])).unwrap();
        let ca = fs::read(&first.ca).unwrap();
        let names = names_of(&["kinesis.internal", "10.1.2.3"]);
        let next = ensure(dir.path(), &names).unwrap();
        assert_eq!(next.made, Made::Certificate);
        assert_eq!(
            fs::read(&next.ca).unwrap(),
            ca,
            "the CA clients trust stays"
        );
        let cert = fs::read_to_string(&next.cert).unwrap();
        let ca = String::from_utf8(ca).unwrap();
        assert_eq!(
            still_good(&cert, &ca, &names, OffsetDateTime::now_utc()),
            Ok(())
        );
        assert!(still_good(
            &cert,
            &ca,
            &names_of(&["other.host"]),
            OffsetDateTime::now_utc()
        )
        .unwrap_err()
        .contains("other.host"));
        // Near expiry counts as not good.
        let later = OffsetDateTime::now_utc() + Duration::days(400);
        assert!(still_good(&cert, &ca, &names, later)
            .unwrap_err()
            .contains("expires"));
    }

    #[test]
    fn a_certificate_from_another_ca_is_replaced_and_half_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        ensure(dir.path(), &names_of(&[])).unwrap();
        ensure(other.path(), &names_of(&[])).unwrap();
        fs::copy(other.path().join(CERT_FILE), dir.path().join(CERT_FILE)).unwrap();
        fs::copy(other.path().join(KEY_FILE), dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(
            ensure(dir.path(), &names_of(&[])).unwrap().made,
            Made::Certificate
        );
        fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = ensure(dir.path(), &names_of(&[])).unwrap_err().to_string();
        assert!(err.contains("without its key"), "{err}");
    }

    #[test]
    fn names_are_the_local_ones_plus_the_extra_each_once() {
        let names = names_of(&["LOCALHOST", "0:0:0:0:0:0:0:1", "api.example"]);
        assert_eq!(&names[..3], ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names.iter().filter(|n| *n == "api.example").count(), 1);
        assert!(!names
            .iter()
            .any(|n| n == "LOCALHOST" || n == "0:0:0:0:0:0:0:1"));
    }

    #[test]
    fn sans_must_be_addresses_or_dns_names() {
        for ok in [
            "localhost",
            "a.b-c.example",
            "*.svc.local",
            "10.0.0.1",
            "fe80::1",
        ] {
            assert_eq!(check_san(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "-x.example", "x..y", "ünï.example", "a/b", "*"] {
            assert!(check_san(bad).is_err(), "{bad}");
        }
    }
}
