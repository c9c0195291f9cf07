//! A deliberately small Kinesis client: one HTTP/1.1 keep-alive connection per
//! instance, AWS JSON 1.1 framing, and a well-formed (but, unless a real signer
//! is wired in, fake) SigV4 `Authorization` header.
//!
//! The benchmark shares a 2-core machine with the server under test, so the
//! client avoids anything that costs CPU per request beyond hyper itself:
//! bodies arrive pre-built as `Bytes`, headers are cheap static values, and
//! there is no connection pool (each concurrency slot owns its connection).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub access_key: String,
    pub region: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_key: "test".into(),
            region: "us-east-1".into(),
        }
    }
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
    /// Connections opened so far (1 in a healthy run); reported as a symptom.
    pub connects: u64,
}

impl Conn {
    pub fn new(endpoint: Arc<Endpoint>, auth: Arc<AuthConfig>, timeout: Duration) -> Self {
        Self {
            endpoint,
            auth,
            timeout,
            sender: None,
            headers: HeaderCache::default(),
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
        let (amz_date, authorization) = self.headers.get(&self.auth);
        let len = body.len();
        Ok(Request::post(self.endpoint.uri.clone())
            .header(http::header::HOST, self.endpoint.host_header.clone())
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.1"),
            )
            .header("x-amz-target", HeaderValue::from_static(op.target()))
            .header("x-amz-date", amz_date)
            .header(http::header::AUTHORIZATION, authorization)
            .header(http::header::CONTENT_LENGTH, len)
            .body(Full::new(body))?)
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
