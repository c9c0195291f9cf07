//! The HTTP seam every Rheo service sits behind.
//!
//! [`listener::serve`] accepts connections up to a bound and hands each request, with its peer
//! address, to the binary's handler; [`limits`] refuses and bounds bodies; [`RequestContext`]
//! is what each request carries through a binding's pipeline (request id, region, account,
//! principal, source address); [`middleware`] is the chain a decoded request passes before it
//! runs; [`ReplyBody`] is a whole answer or a stream of frames that shutdown ends politely;
//! [`cors`] answers browsers' preflights and marks cross-origin answers, for every service;
//! [`tls`] is the TLS port's configuration (rustls, ALPN `h2` and `http/1.1`).
//!
//! **Architecture invariant:** knows no service, no protocol's meaning and no domain: a binding
//! plugs in; nothing here names an operation.

pub mod body;
mod context;
pub mod cors;
pub mod limits;
pub mod listener;
pub mod middleware;
pub mod router;
pub mod stats;
pub mod tls;

pub use body::{FrameSender, FrameStream, ReplyBody, Shutdown};
pub use context::{RequestContext, RequestId};
pub use listener::{serve, serve_all, Listeners, ServeConfig, CONNECTIONS_MAX_DEFAULT};
pub use router::Router;
pub use tls::{Tls, TlsConfig, TlsError};
