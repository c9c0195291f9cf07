//! The shapes of `--json` output as read back by `compare`, `scaling-table` and the targets
//! table: one definition, so the readers cannot drift apart from each other.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct Lat {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// CPU and memory of a process over a phase (server or client).
#[derive(Deserialize)]
pub(crate) struct Use {
    pub cpu_cores: f64,
    #[serde(default)]
    pub peak_rss_mb: f64,
}

#[derive(Deserialize)]
pub(crate) struct Host {
    pub busy_cores: f64,
}

/// One `put --json` object.
#[derive(Deserialize)]
pub(crate) struct PutIn {
    #[serde(default)]
    pub connections: usize,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub latency: Lat,
    #[serde(default)]
    pub stream_shards: Option<usize>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub target_rate: Option<f64>,
    #[serde(default)]
    pub latency_from_schedule: Option<Lat>,
    #[serde(default)]
    pub server: Option<Use>,
    #[serde(default)]
    pub client: Option<Use>,
    #[serde(default)]
    pub host: Option<Host>,
    #[serde(default)]
    pub failed_records: BTreeMap<String, u64>,
    #[serde(default)]
    pub http_errors: BTreeMap<String, u64>,
    #[serde(default)]
    pub transport_errors: u64,
}

impl PutIn {
    /// Records refused plus requests failed: a run with errors is not a clean figure.
    pub fn errors(&self) -> u64 {
        self.failed_records.values().sum::<u64>()
            + self.http_errors.values().sum::<u64>()
            + self.transport_errors
    }
}
