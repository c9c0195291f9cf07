//! A deliberately small Kinesis client: one HTTP/1.1 keep-alive connection per
//! instance, AWS JSON 1.1 framing, and a SigV4 `Authorization` header: a real
//! signature (the `aws-sigv4` crate, as the SDKs sign) when a secret key is
//! given, else a well-formed fake that servers checking only the shape accept.
//!
//! The benchmark shares a 2-core machine with the server under test, so the
//! client avoids anything that costs CPU per request beyond hyper itself:
//! bodies arrive pre-built as `Bytes`, headers are cheap static values, and
//! there is no connection pool (each concurrency slot owns its connection).
//! Signing costs a canonical request, two SHA-256 and five HMACs per request;
//! the SHA-256 of a body, by far the largest part for a 500-record PutRecords,
//! is remembered for the pre-built bodies that a put phase cycles through.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rheo_stdx::calendar::civil_from_days;
use tokio::net::TcpStream;

/// Errors a single API call can end with before a status code is known.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint {0:?}: expected http://host:port")]
    BadEndpoint(String),
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("building request: {0}")]
    Request(#[from] http::Error),
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("signing the request: {0}")]
    Sign(String),
}

/// Where the server lives; parsed once and shared by every connection.
#[derive(Debug, Clone)]
pub struct Endpoint {
    addr: String,
    host_header: HeaderValue,
    uri: Uri,
}

impl Endpoint {
    /// Parses `http://host:port` (a trailing `/` is fine; https is not supported
    /// because every peer we compare is plain HTTP on loopback).
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadEndpoint(url.to_string());
        let uri: Uri = url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") {
            return Err(bad());
        }
        let host = uri.host().ok_or_else(bad)?.to_string();
        let port = uri.port_u16().unwrap_or(80);
        let authority = if uri.port().is_some() {
            format!("{host}:{port}")
        } else {
            host.clone()
        };
        Ok(Self {
            addr: format!(
                "{}:{port}",
                host.trim_start_matches('[').trim_end_matches(']')
            ),
            host_header: HeaderValue::from_str(&authority).map_err(|_| bad())?,
            uri: Uri::from_static("/"),
        })
    }
}

/// Kinesis operations the benchmark uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CreateStream,
    DeleteStream,
    DescribeStream,
    PutRecords,
    GetShardIterator,
    GetRecords,
    RegisterStreamConsumer,
    DescribeStreamConsumer,
    SubscribeToShard,
    StartStreamEncryption,
}

impl Op {
    fn target(self) -> &'static str {
        match self {
            Op::CreateStream => "Kinesis_20131202.CreateStream",
            Op::DeleteStream => "Kinesis_20131202.DeleteStream",
            Op::DescribeStream => "Kinesis_20131202.DescribeStream",
            Op::PutRecords => "Kinesis_20131202.PutRecords",
            Op::GetShardIterator => "Kinesis_20131202.GetShardIterator",
            Op::GetRecords => "Kinesis_20131202.GetRecords",
            Op::RegisterStreamConsumer => "Kinesis_20131202.RegisterStreamConsumer",
            Op::DescribeStreamConsumer => "Kinesis_20131202.DescribeStreamConsumer",
            Op::SubscribeToShard => "Kinesis_20131202.SubscribeToShard",
            Op::StartStreamEncryption => "Kinesis_20131202.StartStreamEncryption",
        }
    }
}

/// What the server answered: status and the full body.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        self.status == 200
    }

    /// The short error type (`ResourceInUseException`), from `__type` with any
    /// `namespace#` prefix removed; `None` for a success or an unparseable body.
    pub fn error_type(&self) -> Option<String> {
        if self.is_success() {
            return None;
        }
        Some(error_type_of(&self.body).unwrap_or_else(|| format!("HTTP{}", self.status)))
    }
}

/// Extracts the short `__type` from an AWS JSON error body.
pub fn error_type_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrBody {
        #[serde(rename = "__type")]
        kind: Option<String>,
    }
    let parsed: ErrBody = serde_json::from_slice(body).ok()?;
    let kind = parsed.kind?;
    let short = kind.rsplit('#').next().unwrap_or(&kind);
    // Some servers append ":http://internal.amazon.com/..." to the type.
    Some(short.split(':').next().unwrap_or(short).to_string())
}

/// Authorization settings shared by all connections.
#[derive(Clone)]
pub struct AuthConfig {
    pub access_key: String,
    pub region: String,
    /// With a secret every request is signed for real; without, the header is a fake.
    pub secret_key: Option<String>,
    /// Sent as `x-amz-security-token` and signed (temporary credentials).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .field("signed", &self.secret_key.is_some())
            .field("session_token", &self.session_token.is_some())
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_key: "test".into(),
            region: "us-east-1".into(),
            secret_key: None,
            session_token: None,
        }
    }
}

/// The signing name Kinesis's model gives (the credential scope's service).
const SIGNING_NAME: &str = "kinesis";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Bodies at least this large have their SHA-256 remembered; smaller ones are cheap to hash
/// and mostly built once (admin calls, GetRecords with a fresh iterator).
const HASH_CACHE_MIN_BYTES: usize = 4096;
/// A put phase cycles through a few pre-built bodies per connection (`--bodies`, 8 by
/// default, 32 for the limits workload); more distinct bodies than this are hashed anew.
const HASH_CACHE_ENTRIES: usize = 64;

/// Real SigV4 signing with `aws-sigv4`, the crate the Rust SDK signs with.
pub struct Signer {
    identity: Identity,
    region: String,
    /// `http://host/`: what the SDK hands the signer (only the path and query are used, the
    /// host comes from the `host` header).
    uri: String,
    host: String,
    /// `(body, hex SHA-256)`; holding the `Bytes` keeps its memory alive and immutable, so a
    /// body at the same address with the same length is the same body.
    hashes: Vec<(Bytes, String)>,
}

impl Signer {
    /// `None` without a secret key (the unsigned fast path).
    pub fn new(auth: &AuthConfig, endpoint: &Endpoint) -> Option<Signer> {
        let secret = auth.secret_key.as_ref()?;
        let creds = aws_credential_types::Credentials::new(
            auth.access_key.clone(),
            secret.clone(),
            auth.session_token.clone(),
            None,
            "rheo-bench",
        );
        let host = endpoint
            .host_header
            .to_str()
            .unwrap_or_default()
            .to_string();
        Some(Signer {
            identity: creds.into(),
            region: auth.region.clone(),
            uri: format!("http://{host}{}", endpoint.uri),
            host,
            hashes: Vec::new(),
        })
    }

    /// The hex SHA-256 of `body`, remembered for large bodies sent again.
    fn payload_hash(&mut self, body: &Bytes) -> String {
        if body.len() < HASH_CACHE_MIN_BYTES {
            return sha256_hex(body);
        }
        let same = |b: &Bytes| b.as_ptr() == body.as_ptr() && b.len() == body.len();
        if let Some((_, h)) = self.hashes.iter().find(|(b, _)| same(b)) {
            return h.clone();
        }
        let h = sha256_hex(body);
        if self.hashes.len() >= HASH_CACHE_ENTRIES {
            self.hashes.remove(0);
        }
        self.hashes.push((body.clone(), h.clone()));
        h
    }

    /// Signs `req` (whose body is `body`) at `time`: adds `x-amz-date`, `authorization` and,
    /// with a session token, `x-amz-security-token`. Signs `host`, `content-type` and
    /// `x-amz-target` with them, the headers an SDK's Kinesis request carries.
    pub fn sign<B>(
        &mut self,
        req: &mut Request<B>,
        target: &str,
        body: &Bytes,
        time: SystemTime,
    ) -> Result<(), ClientError> {
        let hash = self.payload_hash(body);
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ClientError::Sign(e.to_string()))?
            .into();
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", JSON_CONTENT_TYPE),
            ("x-amz-target", target),
        ];
        let signable = SignableRequest::new(
            "POST",
            self.uri.as_str(),
            headers.into_iter(),
            SignableBody::Precomputed(hash),
        )
        .map_err(|e| ClientError::Sign(e.to_string()))?;
        let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| ClientError::Sign(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `(yyyymmddThhmmssZ, yyyymmdd)` for a Unix time in seconds (UTC).
pub fn amz_date(unix_secs: u64) -> (String, String) {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    (stamp, date)
}

/// Builds the fake-but-well-formed SigV4 header value. The signature is a
/// deterministic 64-hex-digit string so that servers which only check the
/// header's shape accept it; servers that verify signatures need `--sign`.
pub fn authorization_header(auth: &AuthConfig, date: &str) -> String {
    let mut sig = String::with_capacity(64);
    for i in 0..32u8 {
        let _ = write!(sig, "{:02x}", i.wrapping_mul(37).wrapping_add(11));
    }
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{date}/{}/kinesis/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={sig}",
        auth.access_key, auth.region
    )
}

/// Caches the date-dependent header values; they change once per second.
#[derive(Debug, Default)]
struct HeaderCache {
    second: u64,
    amz_date: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
}

impl HeaderCache {
    fn get(&mut self, auth: &AuthConfig) -> (HeaderValue, HeaderValue) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let (true, Some(d), Some(a)) = (
            now == self.second,
            self.amz_date.as_ref(),
            self.authorization.as_ref(),
        ) {
            return (d.clone(), a.clone());
        }
        let (stamp, date) = amz_date(now);
        let d = HeaderValue::from_str(&stamp).unwrap_or(HeaderValue::from_static(""));
        let a = HeaderValue::from_str(&authorization_header(auth, &date))
            .unwrap_or(HeaderValue::from_static(""));
        self.second = now;
        self.amz_date = Some(d.clone());
        self.authorization = Some(a.clone());
        (d, a)
    }
}

/// One keep-alive connection. Reconnects lazily after a transport error.
pub struct Conn {
    endpoint: Arc<Endpoint>,
    auth: Arc<AuthConfig>,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
    headers: HeaderCache,
    /// `Some` when requests are signed for real.
    signer: Option<Signer>,
    /// Connections opened so far (1 in a healthy run); reported as a symptom.
    pub connects: u64,
}

impl Conn {
    pub fn new(endpoint: Arc<Endpoint>, auth: Arc<AuthConfig>, timeout: Duration) -> Self {
        let signer = Signer::new(&auth, &endpoint);
        Self {
            endpoint,
            auth,
            timeout,
            sender: None,
            headers: HeaderCache::default(),
            signer,
            connects: 0,
        }
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let stream = TcpStream::connect(&self.endpoint.addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: self.endpoint.addr.clone(),
                source,
            })?;
        // Small request/response exchanges: Nagle would add tens of ms.
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
        });
        self.connects += 1;
        Ok(sender)
    }

    /// Sends one operation with a pre-encoded JSON body and reads the whole answer.
    pub async fn call(&mut self, op: Op, body: Bytes) -> Result<ApiResponse, ClientError> {
        match tokio::time::timeout(self.timeout, self.call_inner(op, body)).await {
            Ok(r) => {
                if r.is_err() {
                    self.sender = None;
                }
                r
            }
            Err(_) => {
                // The connection may still deliver the late answer; drop it.
                self.sender = None;
                Err(ClientError::Timeout(self.timeout))
            }
        }
    }

    /// Sends an operation whose answer streams (SubscribeToShard) on a connection of its own,
    /// and returns the status and the body as it arrives. The connection is not reused.
    pub async fn call_streaming(
        &mut self,
        op: Op,
        body: Bytes,
    ) -> Result<(u16, hyper::body::Incoming), ClientError> {
        let mut sender = self.connect().await?;
        sender.ready().await?;
        let req = self.request(op, body)?;
        let resp = tokio::time::timeout(self.timeout, sender.send_request(req))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))??;
        Ok((resp.status().as_u16(), resp.into_body()))
    }

    fn request(&mut self, op: Op, body: Bytes) -> Result<Request<Full<Bytes>>, ClientError> {
        let len = body.len();
        let builder = Request::post(self.endpoint.uri.clone())
            .header(http::header::HOST, self.endpoint.host_header.clone())
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            )
            .header("x-amz-target", HeaderValue::from_static(op.target()))
            .header(http::header::CONTENT_LENGTH, len);
        match self.signer.as_mut() {
            None => {
                let (amz_date, authorization) = self.headers.get(&self.auth);
                Ok(builder
                    .header("x-amz-date", amz_date)
                    .header(http::header::AUTHORIZATION, authorization)
                    .body(Full::new(body))?)
            }
            Some(signer) => {
                let mut req = builder.body(Full::new(body.clone()))?;
                signer.sign(&mut req, op.target(), &body, SystemTime::now())?;
                Ok(req)
            }
        }
    }

    async fn call_inner(&mut self, op: Op, body: Bytes) -> Result<ApiResponse, ClientError> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        let req = self.request(op, body)?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok(ApiResponse { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_formats_known_instants() {
        assert_eq!(amz_date(0), ("19700101T000000Z".into(), "19700101".into()));
        // 2024-02-29T23:59:59Z: leap day, end of day.
        assert_eq!(
            amz_date(1_709_251_199),
            ("20240229T235959Z".into(), "20240229".into())
        );
        // 2000-03-01T12:34:56Z (century leap year boundary).
        assert_eq!(amz_date(951_914_096).0, "20000301T123456Z");
    }

    #[test]
    fn authorization_header_is_well_formed() {
        let h = authorization_header(&AuthConfig::default(), "20250102");
        assert!(h.starts_with(
            "AWS4-HMAC-SHA256 Credential=test/20250102/us-east-1/kinesis/aws4_request, SignedHeaders="
        ));
        let sig = h.rsplit("Signature=").next().unwrap();
        assert_eq!(sig.len(), 64);
        assert!(sig
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn error_type_strips_namespace_and_suffix() {
        assert_eq!(
            error_type_of(br#"{"__type":"ResourceInUseException","message":"x"}"#).as_deref(),
            Some("ResourceInUseException")
        );
        assert_eq!(
            error_type_of(
                br#"{"__type":"com.amazonaws.kinesis.v20131202#LimitExceededException"}"#
            )
            .as_deref(),
            Some("LimitExceededException")
        );
        assert_eq!(
            error_type_of(br#"{"__type":"ValidationException:http://internal/"}"#).as_deref(),
            Some("ValidationException")
        );
        assert_eq!(error_type_of(b"not json"), None);
        let r = ApiResponse {
            status: 500,
            body: Bytes::from_static(b"oops"),
        };
        assert_eq!(r.error_type().as_deref(), Some("HTTP500"));
    }

    const KEY: &str = "AKIDBENCH";
    const SECRET: &str = "bench/secret+KEY";

    fn verifier(token: Option<&str>) -> rheo_auth::Verifier {
        let token = token.map_or(String::new(), |t| format!("session_token = \"{t}\"\n"));
        let text = format!(
            "[[principal]]\naccess_key_id = \"{KEY}\"\nsecret_access_key = \"{SECRET}\"\naccount = \"123456789012\"\n{token}"
        );
        rheo_auth::Verifier::new(
            rheo_auth::Credentials::from_toml_str(&text, std::path::Path::new(".")).unwrap(),
        )
    }

    fn signing_conn(secret: &str, token: Option<&str>) -> Conn {
        let auth = AuthConfig {
            access_key: KEY.into(),
            region: "eu-west-1".into(),
            secret_key: Some(secret.into()),
            session_token: token.map(str::to_string),
        };
        Conn::new(
            Arc::new(Endpoint::parse("http://127.0.0.1:4567").unwrap()),
            Arc::new(auth),
            Duration::from_secs(1),
        )
    }

    /// What the server's gate does with a request: parse the SigV4 data, then verify.
    fn verify_with(
        v: &rheo_auth::Verifier,
        req: &Request<Full<Bytes>>,
        body: &[u8],
    ) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let auth = rheo_proto::parse_auth(req.headers(), None, http::Version::HTTP_11, "kinesis")
            .map_err(|e| e.message())?;
        let request = rheo_auth::Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query(),
            authority: None,
            headers: req.headers(),
            body,
        };
        v.verify(&request, &auth, now)
            .map(|a| a.identity.account.to_string())
            .map_err(|e| e.message())
    }

    #[test]
    fn signed_requests_verify_with_the_servers_verifier() {
        let v = verifier(None);
        let mut conn = signing_conn(SECRET, None);
        // A large body (hash remembered) and a small one (hashed each time), each twice.
        let big = Bytes::from(format!(r#"{{"Records":[{}]}}"#, "x".repeat(8000)));
        let small = Bytes::from_static(br#"{"StreamName":"s"}"#);
        for (op, body) in [
            (Op::PutRecords, &big),
            (Op::DescribeStream, &small),
            (Op::PutRecords, &big),
            (Op::DescribeStream, &small),
        ] {
            let req = conn.request(op, body.clone()).unwrap();
            let h = req.headers();
            let authz = h["authorization"].to_str().unwrap();
            assert!(
                authz.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY}/")),
                "{authz}"
            );
            assert!(authz.contains("/eu-west-1/kinesis/aws4_request"), "{authz}");
            assert!(
                authz.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
                "{authz}"
            );
            assert_eq!(h["x-amz-target"], op.target());
            assert!(h.get("x-amz-security-token").is_none());
            assert_eq!(verify_with(&v, &req, body).as_deref(), Ok("123456789012"));
        }
        assert_eq!(conn.signer.as_ref().unwrap().hashes.len(), 1);

        // The signature covers the exact body: one byte more and the server refuses it.
        let req = conn.request(Op::PutRecords, big.clone()).unwrap();
        let mut tampered = big.to_vec();
        tampered.push(b' ');
        let err = verify_with(&v, &req, &tampered).unwrap_err();
        assert!(
            err.contains("signature we calculated does not match"),
            "{err}"
        );

        // A wrong secret is refused too.
        let mut wrong = signing_conn("not-the-secret", None);
        let req = wrong.request(Op::DescribeStream, small.clone()).unwrap();
        let err = verify_with(&v, &req, &small).unwrap_err();
        assert!(
            err.contains("signature we calculated does not match"),
            "{err}"
        );
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let v = verifier(Some("tok/en=="));
        let mut conn = signing_conn(SECRET, Some("tok/en=="));
        let body = Bytes::from_static(b"{}");
        let req = conn.request(Op::DescribeStream, body.clone()).unwrap();
        assert_eq!(req.headers()["x-amz-security-token"], "tok/en==");
        let authz = req.headers()["authorization"].to_str().unwrap();
        assert!(authz.contains("x-amz-security-token"), "{authz}");
        assert_eq!(verify_with(&v, &req, &body).as_deref(), Ok("123456789012"));
        // The principal needs its token: without one the same key is refused.
        let mut bare = signing_conn(SECRET, None);
        let req = bare.request(Op::DescribeStream, body.clone()).unwrap();
        assert!(verify_with(&v, &req, &body).is_err());
    }

    #[test]
    fn without_a_secret_the_header_is_the_cheap_fake() {
        let mut conn = Conn::new(
            Arc::new(Endpoint::parse("http://127.0.0.1:4567").unwrap()),
            Arc::new(AuthConfig::default()),
            Duration::from_secs(1),
        );
        assert!(conn.signer.is_none());
        let req = conn
            .request(Op::DescribeStream, Bytes::from_static(b"{}"))
            .unwrap();
        let expected = authorization_header(&AuthConfig::default(), &amz_date(now_secs()).1);
        assert_eq!(req.headers()["authorization"], expected.as_str());
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn endpoint_parsing() {
        let e = Endpoint::parse("http://127.0.0.1:4567").unwrap();
        assert_eq!(e.addr, "127.0.0.1:4567");
        assert_eq!(e.host_header, "127.0.0.1:4567");
        let e = Endpoint::parse("http://localhost/").unwrap();
        assert_eq!(e.addr, "localhost:80");
        assert!(Endpoint::parse("https://x:1").is_err());
        assert!(Endpoint::parse("nonsense").is_err());
    }
}
