//! Helpers shared by the integration tests of the wire layer.

use rheo_streams::types::Ctx;

/// A single-threaded runtime: the domain's futures run to completion in the test's thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The request context every test uses (region of the signature).
pub fn ctx() -> Ctx {
    Ctx::in_region("us-east-1")
}
