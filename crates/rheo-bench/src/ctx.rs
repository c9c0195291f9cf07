//! Settings shared by every phase: where the server is, how to authenticate,
//! which stream, and which processes to watch.

use std::sync::Arc;
use std::time::Duration;

use crate::client::{AuthConfig, Conn, Endpoint};

#[derive(Clone)]
pub struct Ctx {
    pub endpoint: Arc<Endpoint>,
    pub auth: Arc<AuthConfig>,
    pub timeout: Duration,
    pub stream: String,
    /// Server PIDs to sample during each phase (empty = none).
    pub server_pids: Vec<String>,
    /// KMS key to start server-side encryption with on the streams `setup` creates.
    pub encrypt: Option<String>,
}

impl Ctx {
    pub fn conn(&self) -> Conn {
        Conn::new(self.endpoint.clone(), self.auth.clone(), self.timeout)
    }
}
