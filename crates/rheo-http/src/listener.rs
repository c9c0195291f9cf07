//! The listener: accepts connections up to a bound, serves HTTP/1.1 and cleartext HTTP/2 on the
//! same port with hyper, answers CORS preflights and marks cross-origin answers ([`crate::cors`]),
//! and on shutdown stops accepting, ends streaming bodies politely and drains the open
//! connections.

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
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::body::{ReplyBody, Shutdown};

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

/// Serves `listener` until `stop` resolves, calling `handler` for each request with the peer's
/// address. Then stops accepting, triggers `shutdown` (streaming bodies send their farewell and
/// end) and waits up to [`DRAIN_TIMEOUT`] for connections to finish.
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
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(config.connections_max.max(1)));
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
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = socket.set_nodelay(true);
        let open = crate::stats::OpenConnection::new();
        let handler = handler.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
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
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
            drop(open);
        });
    }
    drop(listener);
    shutdown.trigger();
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5 s; closing them");
    }
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
}
