//! The scaling sweep's table (`scripts/bench-scaling.sh`): one row per
//! `put --json` result, with a "limited by" verdict derived from the row's
//! own figures by a fixed, stated rule ([`RULE`]), so a reader can check it.

use serde::Serialize;

/// Share of a CPU budget above which it counts as saturated: /proc gives
/// 10 ms ticks and a sampler is never perfectly aligned with the load, so a
/// fully busy budget reads a little under 100%.
pub const CPU_BUSY: f64 = 0.9;
/// Share of the synced disk bandwidth (`disk-baseline`) above which the
/// writes count as disk-bound.
pub const DISK_BUSY: f64 = 0.7;

/// The rule of [`limited_by`], in words, printed under the table.
pub const RULE: &str = "\"limited by\" is the first that applies: \
(1) client CPU >= 0.9 x its runtime threads -> client CPU; \
(2) busy CPU (the larger of server + client and the whole machine's, /proc/stat) >= 0.9 x the \
machine's cores -> CPU, naming the largest share: server, client or other processes; \
(3) payload MB/s >= 0.7 x the synced disk bandwidth (disk-baseline, 1 MiB per fdatasync) -> disk; \
(4) one connection -> round trip (one request in flight: each request's latency is the ceiling); \
(5) otherwise -> server waits: neither CPU nor disk bandwidth is used up, so requests wait \
inside the server (fsync latency of each group commit, locks, serialised work).";

/// What the benchmark host offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    /// CPU cores shared by server and client.
    pub cores: f64,
    /// Client runtime threads: the most cores the client itself can use.
    pub client_threads: f64,
    /// Synced write bandwidth (MB/s), if measured.
    pub disk_mbps: Option<f64>,
}

/// One sweep point, read back from `put --json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Point {
    pub shards: Option<usize>,
    pub connections: usize,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_cores: Option<f64>,
    pub client_cores: Option<f64>,
    /// Whole-machine busy cores over the same span.
    pub host_cores: Option<f64>,
    /// Records refused or requests failed: a row with errors is not a clean
    /// throughput figure.
    pub errors: u64,
}

impl Point {
    /// Parses one `put --json` line.
    pub fn from_json(line: &str) -> Result<Point, serde_json::Error> {
        let p: crate::readback::PutIn = serde_json::from_str(line)?;
        Ok(Point {
            shards: p.stream_shards,
            connections: p.connections,
            records_per_sec: p.records_per_sec,
            mb_per_sec: p.mb_per_sec,
            p50_ms: p.latency.p50_ms,
            p99_ms: p.latency.p99_ms,
            server_cores: p.server.as_ref().map(|u| u.cpu_cores),
            client_cores: p.client.as_ref().map(|u| u.cpu_cores),
            host_cores: p.host.as_ref().map(|h| h.busy_cores),
            errors: p.errors(),
        })
    }
}

/// Whose CPU share is the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Server,
    Client,
    /// Processes other than the server and the client (a shared host).
    Others,
}

impl Point {
    /// Cores used by processes other than the server and the client.
    pub fn other_cores(&self) -> Option<f64> {
        let host = self.host_cores?;
        Some((host - self.server_cores.unwrap_or(0.0) - self.client_cores.unwrap_or(0.0)).max(0.0))
    }
}

/// What bounds a point's throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The client's runtime threads are busy: the server could take more.
    ClientCpu,
    /// The machine's cores are used up; `by` has the largest share.
    Cpu {
        by: Who,
    },
    Disk,
    RoundTrip,
    ServerWait,
    /// No server CPU figure (no `--server-pid`): rules 2..5 cannot be told apart.
    Unknown,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::ClientCpu => "client CPU",
            Limit::Cpu { by: Who::Server } => "CPU (mostly server)",
            Limit::Cpu { by: Who::Client } => "CPU (mostly client)",
            Limit::Cpu { by: Who::Others } => "CPU (mostly other processes)",
            Limit::Disk => "disk bandwidth",
            Limit::RoundTrip => "round trip (1 in flight)",
            Limit::ServerWait => "server waits (fsync/locks)",
            Limit::Unknown => "unknown (no server CPU)",
        })
    }
}

/// Applies [`RULE`] to one point.
pub fn limited_by(p: &Point, m: &Machine) -> Limit {
    let client = p.client_cores.unwrap_or(0.0);
    if client >= CPU_BUSY * m.client_threads.max(1.0) {
        return Limit::ClientCpu;
    }
    let Some(server) = p.server_cores else {
        return Limit::Unknown;
    };
    let others = p.other_cores().unwrap_or(0.0);
    if server + client + others >= CPU_BUSY * m.cores {
        let by = if server >= client && server >= others {
            Who::Server
        } else if client >= others {
            Who::Client
        } else {
            Who::Others
        };
        return Limit::Cpu { by };
    }
    if m.disk_mbps
        .is_some_and(|d| d > 0.0 && p.mb_per_sec >= DISK_BUSY * d)
    {
        return Limit::Disk;
    }
    if p.connections <= 1 {
        return Limit::RoundTrip;
    }
    Limit::ServerWait
}

pub fn markdown_header() -> String {
    "| shards | connections | rec/s | MB/s | p50 ms | p99 ms | server CPU (cores) | client CPU (cores) | other CPU (cores) | limited by |\n\
     |---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        .to_string()
}

fn opt2(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

pub fn markdown_row(p: &Point, m: &Machine) -> String {
    let mut limit = limited_by(p, m).to_string();
    if p.errors > 0 {
        limit.push_str(&format!("; {} errors", p.errors));
    }
    format!(
        "| {} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {} | {} | {} | {} |",
        p.shards.map_or_else(|| "?".to_string(), |s| s.to_string()),
        p.connections,
        p.records_per_sec,
        p.mb_per_sec,
        p.p50_ms,
        p.p99_ms,
        opt2(p.server_cores),
        opt2(p.client_cores),
        opt2(p.other_cores()),
        limit
    )
}

/// The whole table plus the rule and the machine it was judged against.
pub fn table(points: &[Point], m: &Machine) -> String {
    let mut out = markdown_header();
    out.push('\n');
    for p in points {
        out.push_str(&markdown_row(p, m));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!(
        "Judged against {} cores, {} client runtime thread(s), synced disk bandwidth {}. {}\n",
        m.cores,
        m.client_threads,
        m.disk_mbps
            .map_or_else(|| "not measured".to_string(), |d| format!("{d:.1} MB/s")),
        RULE
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Machine = Machine {
        cores: 2.0,
        client_threads: 1.0,
        disk_mbps: Some(200.0),
    };

    fn point(conns: usize, server: f64, client: f64, mbps: f64) -> Point {
        Point {
            shards: Some(4),
            connections: conns,
            records_per_sec: mbps * 1e6 / 1024.0,
            mb_per_sec: mbps,
            p50_ms: 5.0,
            p99_ms: 9.0,
            server_cores: Some(server),
            client_cores: Some(client),
            host_cores: Some(server + client),
            errors: 0,
        }
    }

    #[test]
    fn other_processes_count_toward_the_cpu_rule() {
        let mut p = point(8, 0.6, 0.2, 10.0);
        assert_eq!(limited_by(&p, &M), Limit::ServerWait);
        p.host_cores = Some(1.9);
        assert!((p.other_cores().unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(limited_by(&p, &M), Limit::Cpu { by: Who::Others });
        p.host_cores = Some(1.85);
        p.server_cores = Some(1.0);
        assert_eq!(limited_by(&p, &M), Limit::Cpu { by: Who::Server });
        // A host figure below server + client (sampling skew) is no negative share.
        p.host_cores = Some(0.5);
        assert_eq!(p.other_cores(), Some(0.0));
        p.host_cores = None;
        assert_eq!(p.other_cores(), None);
    }

    #[test]
    fn busy_client_thread_wins_over_everything() {
        assert_eq!(
            limited_by(&point(8, 1.0, 0.95, 190.0), &M),
            Limit::ClientCpu
        );
        // With two client threads 0.95 is not saturation; the sum is.
        let m2 = Machine {
            client_threads: 2.0,
            ..M
        };
        assert_eq!(
            limited_by(&point(8, 1.0, 0.95, 10.0), &m2),
            Limit::Cpu { by: Who::Server }
        );
    }

    #[test]
    fn cpu_rule_names_the_larger_share() {
        assert_eq!(
            limited_by(&point(8, 1.3, 0.5, 10.0), &M),
            Limit::Cpu { by: Who::Server }
        );
        // 1.79 of 2 cores is just below the 0.9 threshold.
        assert_eq!(
            limited_by(&point(8, 1.29, 0.5, 10.0), &M),
            Limit::ServerWait
        );
        let m1 = Machine { cores: 1.0, ..M };
        assert_eq!(
            limited_by(&point(8, 0.35, 0.6, 10.0), &m1),
            Limit::Cpu { by: Who::Client }
        );
    }

    #[test]
    fn disk_then_round_trip_then_server_wait() {
        assert_eq!(limited_by(&point(8, 0.5, 0.2, 150.0), &M), Limit::Disk);
        assert_eq!(
            limited_by(&point(8, 0.5, 0.2, 130.0), &M),
            Limit::ServerWait
        );
        assert_eq!(limited_by(&point(1, 0.5, 0.2, 130.0), &M), Limit::RoundTrip);
        // Disk bandwidth reached even with one connection is still disk.
        assert_eq!(limited_by(&point(1, 0.5, 0.2, 150.0), &M), Limit::Disk);
        let no_disk = Machine {
            disk_mbps: None,
            ..M
        };
        assert_eq!(
            limited_by(&point(8, 0.5, 0.2, 150.0), &no_disk),
            Limit::ServerWait
        );
    }

    #[test]
    fn missing_server_cpu_is_unknown_unless_the_client_is_busy() {
        let mut p = point(8, 0.0, 0.3, 10.0);
        p.server_cores = None;
        p.host_cores = None;
        assert_eq!(limited_by(&p, &M), Limit::Unknown);
        p.client_cores = Some(0.99);
        assert_eq!(limited_by(&p, &M), Limit::ClientCpu);
    }

    #[test]
    fn parses_put_json_and_renders_a_row() {
        let line = r#"{"connections":8,"batch":500,"records_per_sec":51234.4,"mb_per_sec":52.46,
            "latency":{"count":9,"mean_ms":1,"p50_ms":70.1,"p90_ms":80,"p99_ms":99.94,"p999_ms":1,"max_ms":1},
            "stream_shards":16,"server":{"cpu_seconds":6,"cpu_cores":1.12,"peak_rss_mb":50},
            "client":{"cpu_seconds":3,"cpu_cores":0.41,"peak_rss_mb":9},
            "host":{"busy_cores":1.6,"iowait_cores":0.1},
            "failed_records":{"ProvisionedThroughputExceededException":3},"http_errors":{},"transport_errors":1}"#;
        let p = Point::from_json(line).unwrap();
        assert_eq!(p.shards, Some(16));
        assert_eq!(p.connections, 8);
        assert_eq!(p.server_cores, Some(1.12));
        assert_eq!(p.client_cores, Some(0.41));
        assert_eq!(p.host_cores, Some(1.6));
        assert_eq!(p.errors, 4);
        let row = markdown_row(&p, &M);
        assert_eq!(
            row,
            "| 16 | 8 | 51234 | 52.5 | 70.10 | 99.94 | 1.12 | 0.41 | 0.07 | server waits (fsync/locks); 4 errors |"
        );
        // Old reports without the newer fields still parse.
        let old = r#"{"connections":1,"records_per_sec":1,"mb_per_sec":0,"latency":{"p50_ms":1,"p99_ms":2}}"#;
        let p = Point::from_json(old).unwrap();
        assert_eq!((p.shards, p.server_cores, p.errors), (None, None, 0));
        assert!(markdown_row(&p, &M).contains("| ? | 1 |"));
        assert!(Point::from_json("{}").is_err());
    }

    #[test]
    fn table_has_header_rows_and_rule() {
        let t = table(&[point(1, 0.2, 0.1, 5.0), point(8, 1.5, 0.4, 20.0)], &M);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("| shards | connections |"));
        assert!(lines[2].ends_with("round trip (1 in flight) |"));
        assert!(lines[3].ends_with("CPU (mostly server) |"));
        assert!(t.contains("200.0 MB/s") && t.contains(RULE));
    }
}
