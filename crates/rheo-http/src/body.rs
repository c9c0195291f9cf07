//! Reply bodies: a whole buffer (every answer today), or frames a producer yields for as long as
//! it likes (an event stream such as SubscribeToShard's, which lasts minutes), which shutdown
//! ends politely: the producer's farewell frame goes out, then the body ends, so the client sees
//! a clean end of stream rather than a reset connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, watch};

/// A reply body.
pub enum ReplyBody {
    /// The whole answer (taken on first poll).
    Full(Option<Bytes>),
    /// Frames as the producer sends them.
    Stream(FrameStream),
}

impl ReplyBody {
    pub fn full(bytes: Bytes) -> ReplyBody {
        ReplyBody::Full(Some(bytes).filter(|b| !b.is_empty()))
    }

    pub fn empty() -> ReplyBody {
        ReplyBody::Full(None)
    }
}

impl From<Bytes> for ReplyBody {
    fn from(bytes: Bytes) -> Self {
        ReplyBody::full(bytes)
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ReplyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ReplyBody::Stream(stream) => {
                stream.poll_next(cx).map(|f| f.map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReplyBody::Full(bytes) => bytes.is_none(),
            ReplyBody::Stream(stream) => stream.ended,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ReplyBody::Full(None) => SizeHint::with_exact(0),
            ReplyBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// Tells every streaming body to finish. Cloned into the server; [`Shutdown::trigger`] once.
#[derive(Clone)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            sender: std::sync::Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once [`trigger`](Self::trigger) has been called (at once if it was).
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.sender.subscribe();
        async move {
            // An error means the sender is gone, which only happens when the server is: end too.
            let _ = rx.wait_for(|t| *t).await;
        }
    }
}

/// A streaming body: frames from a channel until the producer drops its sender, or until
/// shutdown, when `farewell` (if any) is sent last.
pub struct FrameStream {
    frames: mpsc::Receiver<Bytes>,
    // One box per streaming reply (not per request, not per frame): the shutdown wait is a
    // future that must be polled from `poll_frame`.
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    farewell: Option<Bytes>,
    ended: bool,
}

/// The producer's side: send frames; dropping it ends the body.
pub type FrameSender = mpsc::Sender<Bytes>;

impl FrameStream {
    /// A streaming body and the sender feeding it; at most `buffered` frames wait in between
    /// (back-pressure on the producer when the client reads slowly).
    pub fn channel(
        buffered: usize,
        shutdown: &Shutdown,
        farewell: Option<Bytes>,
    ) -> (FrameSender, FrameStream) {
        let (tx, rx) = mpsc::channel(buffered.max(1));
        let stream = FrameStream {
            frames: rx,
            shutdown: Box::pin(shutdown.triggered()),
            farewell,
            ended: false,
        };
        (tx, stream)
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.ended {
            return Poll::Ready(None);
        }
        // Frames already produced go out before shutdown is looked at.
        match self.frames.poll_recv(cx) {
            Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame)),
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if self.shutdown.as_mut().poll(cx).is_ready() {
            self.ended = true;
            self.frames.close();
            return Poll::Ready(self.farewell.take());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_full_body_is_one_frame_of_known_size() {
        let mut body = ReplyBody::full(Bytes::from_static(b"{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"{}"));
        assert!(body.frame().await.is_none());
        assert!(ReplyBody::empty().is_end_stream());
    }

    #[tokio::test]
    async fn a_stream_yields_frames_until_its_producer_ends() {
        let shutdown = Shutdown::default();
        let (tx, stream) = FrameStream::channel(4, &shutdown, None);
        let producer = tokio::spawn(async move {
            for i in 0..10u8 {
                tx.send(Bytes::from(vec![i])).await.unwrap();
            }
        });
        let got = ReplyBody::Stream(stream)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        producer.await.unwrap();
        assert_eq!(&got[..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[tokio::test]
    async fn shutdown_ends_a_long_stream_politely_with_its_farewell() {
        let shutdown = Shutdown::default();
        let (tx, stream) = FrameStream::channel(1, &shutdown, Some(Bytes::from_static(b"bye")));
        // A producer that would go on for five minutes, one frame a second.
        let producer = tokio::spawn(async move {
            for _ in 0..300 {
                if tx.send(Bytes::from_static(b"tick")).await.is_err() {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            false
        });
        let mut body = ReplyBody::Stream(stream);
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"tick");
        shutdown.trigger();
        let mut rest = Vec::new();
        while let Some(frame) = body.frame().await {
            rest.push(frame.unwrap().into_data().unwrap());
        }
        // Whatever was already produced, then the farewell, then the end.
        assert_eq!(rest.last().map(|b| &b[..]), Some(&b"bye"[..]));
        assert!(rest.len() <= 2, "{rest:?}");
        assert!(body.is_end_stream());
        // The producer learns the body is gone and stops instead of running for minutes.
        assert!(producer.await.unwrap());
    }
}
