//! The listener: accepts connections up to a bound, serves HTTP/1.1 and cleartext HTTP/2 on the
//! plain port and, over TLS ([`crate::tls`]), HTTP/2 and HTTP/1.1 by ALPN on the TLS port, with
//! hyper; answers CORS preflights and marks cross-origin answers ([`crate::cors`]), and on
//! shutdown stops accepting, ends streaming bodies politely and drains the open connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::body::{ReplyBody, Shutdown};
use crate::tls::{Tls, TlsConfig, HANDSHAKE_TIMEOUT};

/// Connections served at once when the configuration names no other bound. Below the common
/// soft limit of 1,024 open files, so the storage engine keeps descriptors for its segments.
pub const CONNECTIONS_MAX_DEFAULT: usize = 900;

/// How long open connections may take to finish after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Connections served at once; a further client waits in the kernel's accept queue until
    /// one closes (it is not refused, and costs the server nothing meanwhile).
    pub connections_max: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            connections_max: CONNECTIONS_MAX_DEFAULT,
        }
    }
}

/// What a server listens on: a plain port (HTTP/1.1 and h2c), a TLS port (HTTP/2 and HTTP/1.1
/// by ALPN), or both. Both serve the same handler under one connection bound and one drain.
#[derive(Debug, Default)]
pub struct Listeners {
    pub plain: Option<TcpListener>,
    pub tls: Option<(TcpListener, TlsConfig)>,
}

/// Serves `listener` (plain) until `stop` resolves; see [`serve_all`].
pub async fn serve<H, F>(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: Shutdown,
    stop: impl Future<Output = ()>,
    handler: H,
) where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ReplyBody>> + Send + 'static,
{
    let listeners = Listeners {
        plain: Some(listener),
        tls: None,
    };
    serve_all(listeners, config, shutdown, stop, handler).await;
}

/// Serves `listeners` until `stop` resolves, calling `handler` for each request with the peer's
/// address (a request that came over TLS carries [`Tls`] in its extensions). Then stops
/// accepting, triggers `shutdown` (streaming bodies send their farewell and end) and waits up
/// to [`DRAIN_TIMEOUT`] for connections to finish.
pub async fn serve_all<H, F>(
    listeners: Listeners,
    config: ServeConfig,
    shutdown: Shutdown,
    stop: impl Future<Output = ()>,
    handler: H,
) where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ReplyBody>> + Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    // One bound for both ports: what it protects (file descriptors, memory) is the process's.
    let permits = Arc::new(Semaphore::new(config.connections_max.max(1)));
    let Listeners { plain, tls } = listeners;
    let (tls_listener, tls_config) = match tls {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        // Wait for a free slot before accepting, so a client over the bound is left in the
        // backlog rather than accepted and starved.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (accepted, secure) = tokio::select! {
            accepted = accept(plain.as_ref()) => (accepted, false),
            accepted = accept(tls_listener.as_ref()) => (accepted, true),
            _ = &mut stop => break,
        };
        let (socket, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let open = crate::stats::OpenConnection::new();
        let handler = handler.clone();
        let builder = builder.clone();
        // Taken here, before the task starts, so that a shutdown beginning meanwhile still
        // waits for (and ends) this connection.
        let watcher = graceful.watcher();
        match (secure, tls_config.as_ref()) {
            (true, Some(tls)) => {
                let acceptor = tls.acceptor().clone();
                // The handshake runs in the connection's own task: a slow or silent client, or
                // one speaking plain HTTP to this port, never holds up the accept loop.
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let info = Tls {
                        alpn: stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec),
                    };
                    let service = service(peer, Some(info), handler);
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(permit);
                    drop(open);
                });
            }
            _ => {
                let service = service(peer, None, handler);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
                let conn = watcher.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(permit);
                    drop(open);
                });
            }
        }
    }
    drop(plain);
    drop(tls_listener);
    shutdown.trigger();
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5 s; closing them");
    }
}

/// The next connection of `listener`; never, when there is no such listener.
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The hyper service of one connection: CORS, the TLS marker, then the handler.
fn service<H, F>(
    peer: SocketAddr,
    tls: Option<Tls>,
    handler: H,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<ReplyBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<ReplyBody>, Infallible>> + Send,
> + Clone
       + Send
where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ReplyBody>> + Send + 'static,
{
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(tls) = &tls {
            req.extensions_mut().insert(tls.clone());
        }
        // CORS is answered here, for every service alike: a preflight never reaches the
        // handler (it carries no signature), and any answer to a cross-origin request is
        // made readable by the page.
        let answer = if crate::cors::is_preflight(req.method(), req.headers()) {
            Err(crate::cors::preflight(req.headers()))
        } else {
            let cross_origin = req.headers().contains_key(http::header::ORIGIN);
            Ok((cross_origin, handler(peer, req)))
        };
        async move {
            Ok::<_, Infallible>(match answer {
                Err(preflight) => preflight,
                Ok((cross_origin, answer)) => {
                    let mut resp = answer.await;
                    if cross_origin {
                        crate::cors::allow(resp.headers_mut());
                    }
                    resp
                }
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn ask(conn: &mut TcpStream) -> String {
        conn.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = conn.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[tokio::test]
    async fn connections_over_the_bound_wait_until_one_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            ServeConfig { connections_max: 1 },
            Shutdown::default(),
            async move {
                let _ = stop_rx.await;
            },
            |_peer, _req| async { Response::new(ReplyBody::full(Bytes::from_static(b"hi"))) },
        ));
        let mut first = TcpStream::connect(addr).await.unwrap();
        assert!(ask(&mut first).await.contains("200 OK"));
        // The second connection is made by the kernel but not served while the first is open.
        let mut second = TcpStream::connect(addr).await.unwrap();
        second
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buf)).await;
        assert!(early.is_err(), "served over the bound");
        drop(first);
        let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
            .await
            .expect("served once the first closed")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
        drop(second);
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn preflights_are_answered_here_and_cross_origin_answers_are_marked() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = handled.clone();
        let server = tokio::spawn(serve(
            listener,
            ServeConfig::default(),
            Shutdown::default(),
            async move {
                let _ = stop_rx.await;
            },
            move |_peer, _req| {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async {
                    let mut resp = Response::new(ReplyBody::full(Bytes::from_static(b"no")));
                    *resp.status_mut() = http::StatusCode::FORBIDDEN;
                    resp
                }
            },
        ));
        let exchange = |request: &'static str| async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            conn.write_all(request.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            conn.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out).to_ascii_lowercase()
        };
        let pre = exchange(
            "OPTIONS / HTTP/1.1\r\nhost: x\r\norigin: http://app.test\r\n\
             access-control-request-method: POST\r\n\
             access-control-request-headers: x-amz-target,authorization\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(pre.starts_with("http/1.1 200 ok"), "{pre}");
        assert!(pre.contains("access-control-allow-origin: *"), "{pre}");
        assert!(pre.contains("access-control-allow-methods: post"), "{pre}");
        assert!(
            pre.contains("access-control-allow-headers: x-amz-target,authorization"),
            "{pre}"
        );
        assert_eq!(handled.load(std::sync::atomic::Ordering::SeqCst), 0);
        // An error answer to a cross-origin request is readable too.
        let cross = exchange(
            "POST / HTTP/1.1\r\nhost: x\r\norigin: http://app.test\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n",
        )
        .await;
        assert!(cross.starts_with("http/1.1 403"), "{cross}");
        assert!(cross.contains("access-control-allow-origin: *"), "{cross}");
        assert!(
            cross.contains("access-control-expose-headers: x-amzn-requestid, x-amz-id-2"),
            "{cross}"
        );
        // Same origin (no Origin header): nothing added.
        let plain = exchange(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(!plain.contains("access-control-"), "{plain}");
        // A bare OPTIONS is the handler's.
        let bare = exchange(
            "OPTIONS / HTTP/1.1\r\nhost: x\r\norigin: http://app.test\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(bare.starts_with("http/1.1 403"), "{bare}");
        assert_eq!(handled.load(std::sync::atomic::Ordering::SeqCst), 3);
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_ends_a_streaming_reply_with_its_farewell() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::default();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let for_route = shutdown.clone();
        // A test-only streaming route: one frame now, then silence for minutes.
        let server = tokio::spawn(serve(
            listener,
            ServeConfig::default(),
            shutdown,
            async move {
                let _ = stop_rx.await;
            },
            move |_peer, _req| {
                let shutdown = for_route.clone();
                async move {
                    let (tx, stream) = crate::body::FrameStream::channel(
                        4,
                        &shutdown,
                        Some(Bytes::from_static(b"bye\n")),
                    );
                    tokio::spawn(async move {
                        let _ = tx.send(Bytes::from_static(b"tick\n")).await;
                        tokio::time::sleep(Duration::from_secs(300)).await;
                        drop(tx);
                    });
                    Response::new(ReplyBody::Stream(stream))
                }
            },
        ));
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains("tick") {
            let n = conn.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        stop_tx.send(()).unwrap();
        // The rest arrives and the connection ends cleanly well before the drain timeout.
        let rest = tokio::time::timeout(Duration::from_secs(3), async {
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).await.unwrap();
            rest
        })
        .await
        .expect("the stream ended on shutdown");
        seen.extend_from_slice(&rest);
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("bye"), "{text}");
        // Chunked encoding's final zero-length chunk: a clean end, not a reset.
        assert!(text.ends_with("0\r\n\r\n"), "{text}");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    /// A self-signed certificate for `localhost` and the client config that trusts it.
    fn test_tls() -> (TlsConfig, Arc<rustls::ClientConfig>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let server = TlsConfig::from_pem(
            cert.pem().as_bytes(),
            "cert",
            key.serialize_pem().as_bytes(),
            "key",
        )
        .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        (server, Arc::new(client))
    }

    async fn tls_connect(
        addr: SocketAddr,
        client: Arc<rustls::ClientConfig>,
        alpn: &[&[u8]],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut config = (*client).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await
    }

    #[tokio::test]
    async fn the_tls_port_speaks_h2_and_http1_by_alpn_and_survives_plain_http_and_garbage() {
        let (server_tls, client_tls) = test_tls();
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_addr = plain.local_addr().unwrap();
        let tls_addr = secure.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_all(
            Listeners {
                plain: Some(plain),
                tls: Some((secure, server_tls)),
            },
            ServeConfig::default(),
            Shutdown::default(),
            async move {
                let _ = stop_rx.await;
            },
            |_peer, req: Request<Incoming>| {
                // The answer says what the listener told the handler.
                let seen = match req.extensions().get::<Tls>() {
                    Some(tls) => format!(
                        "tls {} {:?}",
                        String::from_utf8_lossy(tls.alpn.as_deref().unwrap_or(b"-")),
                        req.version()
                    ),
                    None => format!("plain {:?}", req.version()),
                };
                async move { Response::new(ReplyBody::full(Bytes::from(seen))) }
            },
        ));
        // Plain HTTP to the TLS port, then garbage: each connection just ends.
        for junk in [&b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"[..], &[0u8; 64][..]] {
            let mut conn = TcpStream::connect(tls_addr).await.unwrap();
            conn.write_all(junk).await.unwrap();
            let mut out = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut out))
                .await
                .expect("the TLS port closes a connection that does not speak TLS");
            assert!(
                read.is_err() || !String::from_utf8_lossy(&out).contains("200 OK"),
                "answered plain HTTP on the TLS port"
            );
        }
        // A client that does not trust the certificate fails its handshake.
        let stranger = {
            let other = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
                .unwrap()
                .self_signed(&other)
                .unwrap();
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert.der().clone()).unwrap();
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Arc::new(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        };
        assert!(tls_connect(tls_addr, stranger, &[]).await.is_err());

        // HTTP/1.1 by ALPN.
        let mut h1 = tls_connect(tls_addr, client_tls.clone(), &[b"http/1.1"])
            .await
            .unwrap();
        h1.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = h1.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("tls http/1.1 HTTP/1.1"), "{text}");

        // HTTP/2 by ALPN.
        let h2 = tls_connect(tls_addr, client_tls.clone(), &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(h2))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::builder()
            .uri("https://localhost/")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"tls h2 HTTP/2.0");
        drop(sender);

        // The plain port is unmarked.
        let mut conn = TcpStream::connect(plain_addr).await.unwrap();
        let text = ask(&mut conn).await;
        assert!(text.contains("plain HTTP/1.1"), "{text}");
        drop(conn);

        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_silent_tls_client_does_not_hold_up_others() {
        let (server_tls, client_tls) = test_tls();
        let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = secure.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_all(
            Listeners {
                plain: None,
                tls: Some((secure, server_tls)),
            },
            ServeConfig { connections_max: 2 },
            Shutdown::default(),
            async move {
                let _ = stop_rx.await;
            },
            |_peer, _req| async { Response::new(ReplyBody::full(Bytes::from_static(b"hi"))) },
        ));
        // Connected, never says a word: its handshake waits in its own task.
        let silent = TcpStream::connect(addr).await.unwrap();
        let mut conn = tokio::time::timeout(
            Duration::from_secs(5),
            tls_connect(addr, client_tls, &[b"http/1.1"]),
        )
        .await
        .expect("served beside a silent client")
        .unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = conn.read_to_end(&mut out).await;
        assert!(String::from_utf8_lossy(&out).contains("200 OK"));
        drop(silent);
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }
}
