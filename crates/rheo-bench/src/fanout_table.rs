//! The fan-out section of the peer report, from `fanout --json` lines (one per run and
//! server) and `disk-baseline --json` lines of the durable floor: medians per server, and the
//! issue's fan-out targets checked for one server.

use serde::Deserialize;

use crate::fanout::{FanoutReport, LatencyPhase, Throughput};
use crate::summary::median;
use crate::targets::Check;

/// The push sub-phases the targets name, with the allowed p99 margin over the floor's p99.
pub const PUSH_TARGETS: [(usize, f64); 3] = [(1, 1.0), (5, 1.0), (20, 3.0)];

/// Medians of the durable floor: one record's write + fdatasync at the producer's pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floor {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub chunk_bytes: u64,
    pub interval_ms: f64,
    pub runs: usize,
}

#[derive(Deserialize)]
struct SyncIn {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Deserialize)]
struct FloorIn {
    chunk_bytes: u64,
    #[serde(default)]
    interval_ms: f64,
    sync_latency: SyncIn,
}

/// The floor from `disk-baseline --json` lines (medians; None without lines).
pub fn floor_from_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Option<Floor>, serde_json::Error> {
    let rows = lines
        .map(serde_json::from_str::<FloorIn>)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let col = |f: &dyn Fn(&FloorIn) -> f64| median(rows.iter().map(f).collect()).unwrap_or(0.0);
    Ok(Some(Floor {
        p50: col(&|r| r.sync_latency.p50_ms),
        p99: col(&|r| r.sync_latency.p99_ms),
        max: col(&|r| r.sync_latency.max_ms),
        chunk_bytes: first.chunk_bytes,
        interval_ms: first.interval_ms,
        runs: rows.len(),
    }))
}

/// Medians of one latency sub-phase over the runs where it verified, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Measured {
        p50: f64,
        p99: f64,
        max: f64,
        rate: f64,
        runs: usize,
    },
    Failed(String),
    Missing,
}

fn latency_cell<'a>(phases: impl Iterator<Item = &'a LatencyPhase>) -> Cell {
    let phases: Vec<&LatencyPhase> = phases.collect();
    let ok: Vec<&&LatencyPhase> = phases.iter().filter(|p| p.ok).collect();
    if ok.is_empty() {
        return match phases.first() {
            None => Cell::Missing,
            Some(p) => Cell::Failed(match &p.error {
                Some(e) => short(e),
                None => format!(
                    "{} of {} expected records received, {} duplicates",
                    p.received,
                    p.acked * p.consumers.max(1) as u64,
                    p.duplicates
                ),
            }),
        };
    }
    let col = |f: &dyn Fn(&LatencyPhase) -> f64| median(ok.iter().map(|p| f(p)).collect());
    Cell::Measured {
        p50: col(&|p| p.p50_ms).unwrap_or(0.0),
        p99: col(&|p| p.p99_ms).unwrap_or(0.0),
        max: col(&|p| p.max_ms).unwrap_or(0.0),
        rate: col(&|p| p.achieved_rate).unwrap_or(0.0),
        runs: ok.len(),
    }
}

/// An error message cut to fit a table cell, without its `|` (a column separator).
fn short(e: &str) -> String {
    let one_line: String = e.replace(['|', '\n'], " ");
    match one_line.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Measured { p50, p99, max, .. } => format!("{p50:.2} / {p99:.2} / {max:.2}"),
            Cell::Failed(e) => format!("fails: {e}"),
            Cell::Missing => "not run".into(),
        }
    }

    fn p99(&self) -> Option<f64> {
        match self {
            Cell::Measured { p99, .. } => Some(*p99),
            _ => None,
        }
    }
}

/// Medians of a catch-up read over the runs where it read everything, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    Measured { rps: f64, mbps: f64, records: f64 },
    Failed(String),
    Missing,
}

fn rate_cell<'a>(reads: impl Iterator<Item = &'a Throughput>) -> Rate {
    let reads: Vec<&Throughput> = reads.collect();
    let ok: Vec<&&Throughput> = reads.iter().filter(|t| t.ok).collect();
    if ok.is_empty() {
        return match reads.first() {
            None => Rate::Missing,
            Some(t) => Rate::Failed(short(
                t.error
                    .as_deref()
                    .unwrap_or("did not read every record once, in order"),
            )),
        };
    }
    let col =
        |f: &dyn Fn(&Throughput) -> f64| median(ok.iter().map(|t| f(t)).collect()).unwrap_or(0.0);
    Rate::Measured {
        rps: col(&|t| t.records_per_sec),
        mbps: col(&|t| t.mb_per_sec),
        records: col(&|t| t.records as f64),
    }
}

impl Rate {
    fn rps(&self) -> Option<f64> {
        match self {
            Rate::Measured { rps, .. } => Some(*rps),
            _ => None,
        }
    }
    fn text(&self) -> (String, String) {
        match self {
            Rate::Measured { rps, mbps, .. } => (format!("{rps:.0}"), format!("{mbps:.1}")),
            Rate::Failed(e) => (format!("fails: {e}"), "-".into()),
            Rate::Missing => ("not run".into(), "-".into()),
        }
    }
}

/// The push consumer counts present in any run, in order.
fn consumer_counts(servers: &[(String, Vec<FanoutReport>)]) -> Vec<usize> {
    let mut v: Vec<usize> = servers
        .iter()
        .flat_map(|(_, runs)| runs.iter().flat_map(|r| r.push.iter().map(|p| p.consumers)))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn push_cell(runs: &[FanoutReport], n: usize) -> Cell {
    latency_cell(
        runs.iter()
            .flat_map(|r| r.push.iter().filter(move |p| p.consumers == n)),
    )
}

fn get_cell(runs: &[FanoutReport]) -> Cell {
    latency_cell(runs.iter().map(|r| &r.get))
}

fn catchup_cells(runs: &[FanoutReport]) -> (Rate, Rate) {
    let c: Vec<_> = runs.iter().filter_map(|r| r.catchup.as_ref()).collect();
    (
        rate_cell(c.iter().map(|c| &c.get_records)),
        rate_cell(c.iter().map(|c| &c.subscribe)),
    )
}

/// The latency table (ms, p50 / p99 / max) and the catch-up table, as Markdown.
pub fn tables(servers: &[(String, Vec<FanoutReport>)], floor: Option<&Floor>) -> String {
    let counts = consumer_counts(servers);
    let mut out =
        String::from("| server | runs | records/s (achieved) | put-to-get (GetRecords) |");
    for n in &counts {
        out.push_str(&format!(
            " push, {n} consumer{} |",
            if *n == 1 { "" } else { "s" }
        ));
    }
    out.push_str("\n|---|---:|---:|---:|");
    for _ in &counts {
        out.push_str("---:|");
    }
    out.push('\n');
    for (label, runs) in servers {
        let get = get_cell(runs);
        let rate = runs.first().map_or(0, |r| r.rate);
        let achieved = match &get {
            Cell::Measured { rate: a, .. } => format!("{rate} ({a:.0})"),
            _ => format!("{rate}"),
        };
        out.push_str(&format!(
            "| {label} | {} | {achieved} | {} |",
            runs.len(),
            get.text()
        ));
        for n in &counts {
            out.push_str(&format!(" {} |", push_cell(runs, *n).text()));
        }
        out.push('\n');
    }
    if let Some(f) = floor {
        out.push_str(&format!(
            "| disk floor: write + fdatasync of {} B every {:.0} ms | {} | - | {:.2} / {:.2} / {:.2} |",
            f.chunk_bytes, f.interval_ms, f.runs, f.p50, f.p99, f.max
        ));
        for _ in &counts {
            out.push_str(" - |");
        }
        out.push('\n');
    }
    out.push_str(
        "\n| server | records read | GetRecords rec/s | GetRecords MB/s | SubscribeToShard rec/s | SubscribeToShard MB/s | SubscribeToShard / GetRecords |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (label, runs) in servers {
        let (get, sub) = catchup_cells(runs);
        if get == Rate::Missing && sub == Rate::Missing {
            continue;
        }
        let records = match (&get, &sub) {
            (Rate::Measured { records, .. }, _) | (_, Rate::Measured { records, .. }) => {
                format!("{records:.0}")
            }
            _ => "-".into(),
        };
        let ratio = match (get.rps(), sub.rps()) {
            (Some(g), Some(s)) if g > 0.0 => format!("{:.2}x", s / g),
            _ => "-".into(),
        };
        let ((g_rps, g_mb), (s_rps, s_mb)) = (get.text(), sub.text());
        out.push_str(&format!(
            "| {label} | {records} | {g_rps} | {g_mb} | {s_rps} | {s_mb} | {ratio} |\n"
        ));
    }
    out
}

/// The issue's fan-out targets for `subject`.
pub fn checks(
    servers: &[(String, Vec<FanoutReport>)],
    floor: Option<&Floor>,
    subject: &str,
) -> Vec<Check> {
    let runs = servers
        .iter()
        .find(|(l, _)| l == subject)
        .map(|(_, r)| r.as_slice());
    let mut v = Vec::new();
    for (n, margin) in PUSH_TARGETS {
        let target = format!(
            "SubscribeToShard put-to-push p99 within {margin:.0} ms of the disk floor's p99 ({n} consumer{}, 1 shard)",
            if n == 1 { "" } else { "s" }
        );
        let cell = runs.map(|r| push_cell(r, n));
        v.push(match (cell.as_ref().and_then(Cell::p99), floor) {
            (Some(p99), Some(f)) => Check {
                target,
                measured: format!(
                    "{p99:.2} ms vs floor {:.2} ms: {:+.2} ms",
                    f.p99,
                    p99 - f.p99
                ),
                met: Some(p99 - f.p99 <= margin),
            },
            _ => Check {
                target,
                measured: match cell {
                    Some(Cell::Failed(e)) => format!("fails: {e}"),
                    _ => "not measured".into(),
                },
                met: None,
            },
        });
    }
    let target = "catch-up through SubscribeToShard >= GetRecords catch-up (records/s)".to_string();
    let (get, sub) = runs.map_or((Rate::Missing, Rate::Missing), catchup_cells);
    v.push(match (get.rps(), sub.rps()) {
        (Some(g), Some(s)) if g > 0.0 => Check {
            target,
            measured: format!("{s:.0} vs {g:.0} rec/s: {:.2}x", s / g),
            met: Some(s >= g),
        },
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::Catchup;

    fn phase(consumers: usize, p99: f64) -> LatencyPhase {
        LatencyPhase {
            consumers,
            ok: true,
            achieved_rate: 1000.0,
            acked: 100,
            received: 100 * consumers.max(1) as u64,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            max_ms: p99 * 2.0,
            ..Default::default()
        }
    }

    fn read(rps: f64) -> Throughput {
        Throughput {
            ok: true,
            records: 1000,
            records_per_sec: rps,
            mb_per_sec: rps / 1000.0,
            ..Default::default()
        }
    }

    fn run(push_p99: [f64; 3], get_rps: f64, sub_rps: f64) -> FanoutReport {
        FanoutReport {
            label: "rheo".into(),
            rate: 1000,
            get: phase(0, 1.0),
            push: vec![
                phase(1, push_p99[0]),
                phase(5, push_p99[1]),
                phase(20, push_p99[2]),
            ],
            catchup: Some(Catchup {
                written: 1000,
                get_records: read(get_rps),
                subscribe: read(sub_rps),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const FLOOR: Floor = Floor {
        p50: 0.1,
        p99: 0.5,
        max: 2.0,
        chunk_bytes: 1024,
        interval_ms: 1.0,
        runs: 1,
    };

    #[test]
    fn targets_use_medians_and_the_floor() {
        // Medians over three runs: 1.2, 1.6 and 3.0 ms for 1, 5 and 20 consumers.
        let servers = vec![(
            "rheo".to_string(),
            vec![
                run([1.2, 1.6, 3.0], 100.0, 200.0),
                run([1.0, 1.4, 4.0], 100.0, 200.0),
                run([9.0, 9.0, 3.0], 100.0, 50.0),
            ],
        )];
        let c = checks(&servers, Some(&FLOOR), "rheo");
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].met, Some(true), "{:?}", c[0]); // 1.2 - 0.5 <= 1
        assert_eq!(c[1].met, Some(false), "{:?}", c[1]); // 1.6 - 0.5 > 1
        assert_eq!(c[2].met, Some(true), "{:?}", c[2]); // 3.0 - 0.5 <= 3
        assert_eq!(c[3].met, Some(true), "{:?}", c[3]); // median 200 >= 100
        assert!(c[1].measured.contains("+1.10 ms"), "{}", c[1].measured);
    }

    #[test]
    fn failures_are_shown_not_measured() {
        let mut r = run([1.0, 1.0, 1.0], 100.0, 50.0);
        for p in &mut r.push {
            p.ok = false;
            p.error = Some("SubscribeToShard shardId-0: HTTP 400 | unknown".into());
        }
        let servers = vec![("peer".to_string(), vec![r])];
        let t = tables(&servers, Some(&FLOOR));
        assert!(
            t.contains("fails: SubscribeToShard shardId-0: HTTP 400   unknown"),
            "{t}"
        );
        assert!(
            t.contains("| disk floor: write + fdatasync of 1024 B every 1 ms | 1 |"),
            "{t}"
        );
        assert!(
            t.contains("| peer | 1000 | 100 | 0.1 | 50 | 0.1 | 0.50x |"),
            "{t}"
        );
        let c = checks(&servers, Some(&FLOOR), "peer");
        assert_eq!(c[0].met, None);
        assert!(c[0].measured.starts_with("fails:"));
        assert_eq!(c[3].met, Some(false));
        // Without the floor nothing can be checked, and a missing server is "not measured".
        assert_eq!(checks(&servers, None, "peer")[0].met, None);
        assert_eq!(checks(&servers, Some(&FLOOR), "rheo")[3].met, None);
    }

    #[test]
    fn floor_is_read_from_disk_baseline_lines() {
        let lines = [
            r#"{"path":"x","chunk_bytes":1024,"chunks":10,"bytes":10240,"elapsed_s":1.0,"mb_per_sec":0.01,"syncs_per_sec":10.0,"interval_ms":1.0,"sync_latency":{"count":10,"mean_ms":0.2,"p50_ms":0.1,"p90_ms":0.2,"p99_ms":0.3,"p999_ms":0.4,"max_ms":0.5}}"#,
            r#"{"path":"x","chunk_bytes":1024,"chunks":10,"bytes":10240,"elapsed_s":1.0,"mb_per_sec":0.01,"syncs_per_sec":10.0,"interval_ms":1.0,"sync_latency":{"count":10,"mean_ms":0.2,"p50_ms":0.2,"p90_ms":0.2,"p99_ms":0.5,"p999_ms":0.6,"max_ms":0.9}}"#,
        ];
        let f = floor_from_lines(lines.into_iter()).unwrap().unwrap();
        assert_eq!(f.runs, 2);
        assert!((f.p99 - 0.4).abs() < 1e-9, "{f:?}");
        assert_eq!(f.chunk_bytes, 1024);
        assert_eq!(floor_from_lines(std::iter::empty()).unwrap(), None);
    }

    #[test]
    fn report_round_trips_through_json() {
        let r = run([1.0, 2.0, 3.0], 10.0, 20.0);
        let back: FanoutReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
