//! The HTTP seam every Rheo service sits behind.
//!
//! Today: the [`RequestContext`] each request carries from the listener through a binding's
//! pipeline (request id, region, account, principal, source address). The listener, connection
//! limit, routing and body limits still live in `rheo-server/src/http.rs` and move here next.
//!
//! **Architecture invariant:** knows no service, no protocol's meaning and no domain: a binding
//! plugs in; nothing here names an operation.

mod context;

pub use context::{RequestContext, RequestId};
