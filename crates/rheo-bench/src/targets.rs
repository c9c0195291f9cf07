//! The parts of the peer report beyond the main table: extra `put`
//! workloads (a paced run at half the maximum rate, 100-byte records,
//! 256 KiB records) with their medians, and the performance targets of the
//! issue checked against one server's figures, as Markdown.

use serde::Deserialize;

use crate::summary::{median, median_row, Row};

/// Workload names the targets look for (the script passes them in
/// `--put-run SERVER:WORKLOAD=FILE`).
pub const HALF_RATE: &str = "half-rate";
pub const SMALL: &str = "100B";
pub const LARGE: &str = "256KiB";
/// The main put workload against enough shards that nothing is throttled, with the server's
/// throughput limits on and off.
pub const LIMITS_ON: &str = "limits-on";
pub const LIMITS_OFF: &str = "limits-off";
/// The main put workload on an encrypted stream (`--encrypt`) and on a plain one, on a durable
/// server, alternating.
pub const ENCRYPTED: &str = "encrypted";
pub const PLAIN: &str = "plain";
/// The main put workload with every request signed (`--secret-key`) against a server verifying
/// signatures (`--auth sigv4`), and unsigned against the default permissive server, alternating.
pub const SIGV4: &str = "sigv4";
pub const UNSIGNED: &str = "unsigned";

/// Figures of one `put --json` run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutRow {
    pub rps: f64,
    pub mbps: f64,
    pub p50: f64,
    pub p99: f64,
    /// Paced runs only.
    pub target_rate: Option<f64>,
    pub sched_p50: Option<f64>,
    pub sched_p99: Option<f64>,
    pub cpu_cores: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub errors: u64,
    /// The run's `--label`, when its JSON has one.
    pub label: Option<String>,
}

impl PutRow {
    pub fn from_json(line: &str) -> Result<PutRow, serde_json::Error> {
        let p: crate::readback::PutIn = serde_json::from_str(line)?;
        Ok(PutRow {
            rps: p.records_per_sec,
            mbps: p.mb_per_sec,
            p50: p.latency.p50_ms,
            p99: p.latency.p99_ms,
            target_rate: p.target_rate,
            sched_p50: p.latency_from_schedule.as_ref().map(|l| l.p50_ms),
            sched_p99: p.latency_from_schedule.as_ref().map(|l| l.p99_ms),
            cpu_cores: p.server.as_ref().map(|u| u.cpu_cores),
            peak_rss_mb: p.server.as_ref().map(|u| u.peak_rss_mb),
            errors: p.errors(),
            label: p.label,
        })
    }
}

/// Per-column medians of several `put` runs (errors are summed).
pub fn median_put(rows: &[PutRow]) -> PutRow {
    let col = |f: &dyn Fn(&PutRow) -> f64| median(rows.iter().map(f).collect()).unwrap_or(0.0);
    let opt = |f: &dyn Fn(&PutRow) -> Option<f64>| median(rows.iter().filter_map(f).collect());
    PutRow {
        rps: col(&|r| r.rps),
        mbps: col(&|r| r.mbps),
        p50: col(&|r| r.p50),
        p99: col(&|r| r.p99),
        target_rate: opt(&|r| r.target_rate),
        sched_p50: opt(&|r| r.sched_p50),
        sched_p99: opt(&|r| r.sched_p99),
        cpu_cores: opt(&|r| r.cpu_cores),
        peak_rss_mb: opt(&|r| r.peak_rss_mb),
        errors: rows.iter().map(|r| r.errors).sum(),
        label: rows.first().and_then(|r| r.label.clone()),
    }
}

/// Median synced bandwidth (MB/s) and chunk size of `disk-baseline --json` lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Disk {
    pub mbps: f64,
    pub chunk_bytes: u64,
    pub runs: usize,
}

#[derive(Deserialize)]
struct DiskIn {
    mb_per_sec: f64,
    chunk_bytes: u64,
}

/// Median bandwidth per chunk size, smallest chunk first.
pub fn disk_from_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<Disk>, serde_json::Error> {
    let mut by_chunk: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for l in lines {
        let d: DiskIn = serde_json::from_str(l)?;
        by_chunk
            .entry(d.chunk_bytes)
            .or_default()
            .push(d.mb_per_sec);
    }
    Ok(by_chunk
        .into_iter()
        .filter_map(|(chunk_bytes, v)| {
            let runs = v.len();
            median(v).map(|mbps| Disk {
                mbps,
                chunk_bytes,
                runs,
            })
        })
        .collect())
}

/// All inputs of the report: `(label, runs)` in display order.
pub struct Inputs<'a> {
    pub all: &'a [(String, Vec<Row>)],
    /// `(server, workload, runs)`.
    pub puts: &'a [(String, String, Vec<PutRow>)],
    /// Synced bandwidth at the chunk sizes matching the large-record
    /// workload (record and request size); the target uses the fastest.
    pub disk: &'a [Disk],
}

fn opt_fmt(v: Option<f64>, prec: usize, unit: &str) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.prec$}{unit}"))
}

/// Table of the extra `put` workloads, medians per (server, workload).
pub fn extra_table(puts: &[(String, String, Vec<PutRow>)]) -> String {
    let mut out = String::from(
        "| server | workload | runs | put rec/s | put MB/s | p50 / p99 ms (from send) | p50 / p99 ms (from schedule) | offered rec/s | server CPU (cores) | server peak RSS | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (server, workload, rows) in puts {
        let m = median_put(rows);
        // The runs' own label (`Rheo (sigv4)`) when they carry one, else the server's name.
        let server = m.label.as_deref().unwrap_or(server);
        let sched = match (m.sched_p50, m.sched_p99) {
            (Some(a), Some(b)) => format!("{a:.1} / {b:.1}"),
            _ => "closed loop".into(),
        };
        out.push_str(&format!(
            "| {server} | {workload} | {} | {:.0} | {:.1} | {:.1} / {:.1} | {sched} | {} | {} | {} | {} |\n",
            rows.len(),
            m.rps,
            m.mbps,
            m.p50,
            m.p99,
            opt_fmt(m.target_rate, 0, ""),
            opt_fmt(m.cpu_cores, 2, ""),
            opt_fmt(m.peak_rss_mb, 0, " MB"),
            m.errors,
        ));
    }
    out
}

fn find_all(inputs: &Inputs<'_>, label: &str) -> Option<Row> {
    inputs
        .all
        .iter()
        .find(|(l, rows)| l == label && !rows.is_empty())
        .map(|(_, rows)| median_row(rows))
}

fn find_put(inputs: &Inputs<'_>, server: &str, workload: &str) -> Option<PutRow> {
    inputs
        .puts
        .iter()
        .find(|(s, w, rows)| s == server && w == workload && !rows.is_empty())
        .map(|(_, _, rows)| median_put(rows))
}

/// One target: what it asks, what was measured, and whether it was met
/// (`None` when a figure it needs is missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

fn ratio_check(target: String, what: &str, x: Option<f64>, base: Option<f64>, min: f64) -> Check {
    match (x, base) {
        (Some(x), Some(b)) if b > 0.0 => Check {
            target,
            measured: format!("{x:.0} vs {b:.0} {what}: {:.2}x", x / b),
            met: Some(x / b >= min),
        },
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    }
}

fn max_check(target: String, measured: Option<(f64, String)>, max: f64) -> Check {
    match measured {
        Some((v, text)) => Check {
            target,
            measured: text,
            met: Some(v <= max),
        },
        None => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    }
}

/// The issue's targets for `subject`, against the peers labelled
/// `kinesalite` and `ferrokinesis` measured in the same run.
pub fn checks(inputs: &Inputs<'_>, subject: &str) -> Vec<Check> {
    let me = find_all(inputs, subject);
    let kl = find_all(inputs, "kinesalite");
    let fk = find_all(inputs, "ferrokinesis");
    let mut v = vec![
        ratio_check(
            "PutRecords records/s >= 20x kinesalite".into(),
            "rec/s",
            me.as_ref().map(|r| r.put_rps),
            kl.as_ref().map(|r| r.put_rps),
            20.0,
        ),
        ratio_check(
            "PutRecords records/s >= 4x ferrokinesis (in-memory)".into(),
            "rec/s",
            me.as_ref().map(|r| r.put_rps),
            fk.as_ref().map(|r| r.put_rps),
            4.0,
        ),
        ratio_check(
            "GetRecords catch-up records/s >= 10x kinesalite".into(),
            "rec/s",
            me.as_ref().map(|r| r.get_rps),
            kl.as_ref().map(|r| r.get_rps),
            10.0,
        ),
        max_check(
            "put-to-get latency p50 <= 1 ms at 1,000 records/s".into(),
            me.as_ref()
                .map(|r| (r.e2e_p50, format!("{:.2} ms", r.e2e_p50))),
            1.0,
        ),
        max_check(
            "put-to-get latency p99 <= 3 ms at 1,000 records/s".into(),
            me.as_ref()
                .map(|r| (r.e2e_p99, format!("{:.2} ms", r.e2e_p99))),
            3.0,
        ),
    ];
    let half = find_put(inputs, subject, HALF_RATE);
    v.push(max_check(
        "PutRecords p99 <= 20 ms at half the maximum throughput (from schedule)".into(),
        half.as_ref().and_then(|h| {
            let p99 = h.sched_p99?;
            Some((
                p99,
                format!(
                    "{p99:.1} ms at {} rec/s offered, {:.0} achieved (from send: {:.1} ms)",
                    opt_fmt(h.target_rate, 0, ""),
                    h.rps,
                    h.p99
                ),
            ))
        }),
        20.0,
    ));
    let small = find_put(inputs, subject, SMALL);
    v.push(Check {
        target: "100-byte records >= 300,000 records/s".into(),
        measured: small
            .as_ref()
            .map_or("not measured".into(), |s| format!("{:.0} rec/s", s.rps)),
        met: small.as_ref().map(|s| s.rps >= 300_000.0),
    });
    let large = find_put(inputs, subject, LARGE);
    let best = inputs
        .disk
        .iter()
        .copied()
        .filter(|d| d.mbps > 0.0)
        .max_by(|a, b| a.mbps.total_cmp(&b.mbps));
    let sizes = inputs
        .disk
        .iter()
        .map(|d| format!("{} KiB", d.chunk_bytes / 1024))
        .collect::<Vec<_>>()
        .join(", ");
    let target = "256 KiB records >= 50% of the disk's synced write bandwidth".to_string();
    v.push(match (large, best) {
        (Some(l), Some(d)) => Check {
            target,
            measured: format!(
                "{:.1} MB/s vs {:.1} MB/s (write + fdatasync of {} KiB chunks, the fastest of {sizes}): {:.0}%",
                l.mbps,
                d.mbps,
                d.chunk_bytes / 1024,
                100.0 * l.mbps / d.mbps
            ),
            met: Some(l.mbps >= 0.5 * d.mbps),
        },
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    });
    let (on, off) = (
        find_put(inputs, subject, LIMITS_ON),
        find_put(inputs, subject, LIMITS_OFF),
    );
    let target =
        "put records/s with throughput limits on (nothing throttled) within 5% of limits off"
            .to_string();
    v.push(match (on, off) {
        (Some(on), Some(off)) if off.rps > 0.0 => {
            let ratio = on.rps / off.rps;
            Check {
                target,
                measured: format!(
                    "{:.0} vs {:.0} rec/s: {:.1}%{}",
                    on.rps,
                    off.rps,
                    100.0 * ratio,
                    if on.errors > 0 {
                        format!(
                            "; {} records refused or requests failed with limits on: add shards",
                            on.errors
                        )
                    } else {
                        String::new()
                    }
                ),
                // Throttled records would make it a different workload, not a cleaner figure.
                met: Some(ratio >= 0.95 && on.errors == 0),
            }
        }
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    });
    let (enc, plain) = (
        find_put(inputs, subject, ENCRYPTED),
        find_put(inputs, subject, PLAIN),
    );
    let target = "durable put records/s with encryption at rest within 15% of plain".to_string();
    v.push(match (enc, plain) {
        (Some(enc), Some(plain)) if plain.rps > 0.0 => {
            let ratio = enc.rps / plain.rps;
            Check {
                target,
                measured: format!(
                    "{:.0} vs {:.0} rec/s: {:.1}%",
                    enc.rps,
                    plain.rps,
                    100.0 * ratio
                ),
                met: Some(ratio >= 0.85 && enc.errors == 0),
            }
        }
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    });
    let (signed, unsigned) = (
        find_put(inputs, subject, SIGV4),
        find_put(inputs, subject, UNSIGNED),
    );
    let target =
        "durable put records/s with every request signed and verified (--auth sigv4) within 10% of unsigned"
            .to_string();
    v.push(match (signed, unsigned) {
        (Some(signed), Some(unsigned)) if unsigned.rps > 0.0 => {
            let ratio = signed.rps / unsigned.rps;
            Check {
                target,
                measured: format!(
                    "{:.0} vs {:.0} rec/s: {:.1}%{}",
                    signed.rps,
                    unsigned.rps,
                    100.0 * ratio,
                    if signed.errors > 0 {
                        format!(
                            "; {} records refused or requests failed signed",
                            signed.errors
                        )
                    } else {
                        String::new()
                    }
                ),
                // A refused signature would make it a different workload.
                met: Some(ratio >= 0.90 && signed.errors == 0),
            }
        }
        _ => Check {
            target,
            measured: "not measured".into(),
            met: None,
        },
    });
    v
}

/// The targets as a Markdown table.
pub fn targets_table(checks: &[Check]) -> String {
    let mut out = String::from("| target | measured | met |\n|---|---|---|\n");
    for c in checks {
        let met = match c.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "n/a",
        };
        out.push_str(&format!("| {} | {} | {met} |\n", c.target, c.measured));
    }
    out
}

/// Median of the number at JSON `pointer` (e.g. `/put/records_per_sec`) over
/// the JSON lines of `text`; lines without it are skipped.
pub fn median_at(text: &str, pointer: &str) -> Option<f64> {
    let vals = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.pointer(pointer).and_then(serde_json::Value::as_f64))
        .collect();
    median(vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_row(put: f64, get: f64, e2e50: f64, e2e99: f64) -> Row {
        Row {
            put_rps: put,
            put_mbps: put / 1000.0,
            put_p50: 1.0,
            put_p99: 2.0,
            get_rps: get,
            e2e_p50: e2e50,
            e2e_p99: e2e99,
            cpu_cores: Some(1.0),
            peak_rss_mb: Some(10.0),
            ok: true,
        }
    }

    fn put_row(rps: f64, mbps: f64, sched_p99: Option<f64>) -> PutRow {
        PutRow {
            rps,
            mbps,
            p50: 1.0,
            p99: 5.0,
            target_rate: sched_p99.map(|_| 50_000.0),
            sched_p50: sched_p99.map(|_| 2.0),
            sched_p99,
            cpu_cores: None,
            peak_rss_mb: None,
            errors: 0,
            label: None,
        }
    }

    #[test]
    fn parses_closed_and_paced_put_json() {
        let closed = r#"{"records_per_sec":1000.0,"mb_per_sec":1.0,"latency":{"p50_ms":2.0,"p99_ms":9.0},
            "server":{"cpu_cores":0.5,"peak_rss_mb":50.0},"failed_records":{"X":2},"http_errors":{},"transport_errors":1}"#;
        let r = PutRow::from_json(closed).unwrap();
        assert_eq!((r.rps, r.p99, r.errors), (1000.0, 9.0, 3));
        assert_eq!((r.target_rate, r.sched_p99), (None, None));
        assert_eq!(r.cpu_cores, Some(0.5));
        let paced = r#"{"records_per_sec":990.0,"mb_per_sec":1.0,"latency":{"p50_ms":2.0,"p99_ms":9.0},
            "target_rate":1000.0,"latency_from_schedule":{"p50_ms":2.5,"p99_ms":15.0}}"#;
        let r = PutRow::from_json(paced).unwrap();
        assert_eq!(
            (r.target_rate, r.sched_p50, r.sched_p99),
            (Some(1000.0), Some(2.5), Some(15.0))
        );
        assert!(PutRow::from_json("{}").is_err());
    }

    #[test]
    fn disk_median_and_pointer_median() {
        let lines = [
            r#"{"mb_per_sec":100.0,"chunk_bytes":4194304}"#,
            r#"{"mb_per_sec":300.0,"chunk_bytes":4194304}"#,
            r#"{"mb_per_sec":200.0,"chunk_bytes":4194304}"#,
            r#"{"mb_per_sec":50.0,"chunk_bytes":262144}"#,
        ];
        let d = disk_from_lines(lines.into_iter()).unwrap();
        assert_eq!(
            d,
            vec![
                Disk {
                    mbps: 50.0,
                    chunk_bytes: 262_144,
                    runs: 1
                },
                Disk {
                    mbps: 200.0,
                    chunk_bytes: 4_194_304,
                    runs: 3
                }
            ]
        );
        assert!(disk_from_lines(std::iter::empty()).unwrap().is_empty());
        let text = "noise\n{\"put\":{\"records_per_sec\":3}}\n{\"put\":{\"records_per_sec\":1}}\n{\"x\":1}\n{\"put\":{\"records_per_sec\":2}}\n";
        assert_eq!(median_at(text, "/put/records_per_sec"), Some(2.0));
        assert_eq!(median_at(text, "/get/records_per_sec"), None);
    }

    #[test]
    fn targets_are_checked_against_the_peers_of_the_same_run() {
        let all = vec![
            (
                "kinesalite".to_string(),
                vec![all_row(5_000.0, 10_000.0, 9.0, 50.0)],
            ),
            (
                "ferrokinesis".to_string(),
                vec![all_row(40_000.0, 100_000.0, 3.0, 9.0)],
            ),
            (
                "rheo".to_string(),
                vec![
                    all_row(150_000.0, 200_000.0, 0.8, 2.0),
                    all_row(90_000.0, 90_000.0, 0.9, 4.0),
                    all_row(120_000.0, 120_000.0, 0.7, 3.5),
                ],
            ),
        ];
        let puts = vec![
            (
                "rheo".to_string(),
                HALF_RATE.to_string(),
                vec![put_row(60_000.0, 61.0, Some(12.0))],
            ),
            (
                "rheo".to_string(),
                SMALL.to_string(),
                vec![put_row(250_000.0, 25.0, None)],
            ),
            (
                "rheo".to_string(),
                LARGE.to_string(),
                vec![put_row(1000.0, 262.0, None)],
            ),
            (
                "kinesalite".to_string(),
                LARGE.to_string(),
                vec![put_row(10.0, 2.6, None)],
            ),
        ];
        // The faster chunk size is the yardstick: 262 MB/s is 52% of 500.
        let disk = [
            Disk {
                mbps: 500.0,
                chunk_bytes: 4 << 20,
                runs: 1,
            },
            Disk {
                mbps: 300.0,
                chunk_bytes: 256 << 10,
                runs: 1,
            },
        ];
        let c = checks(
            &Inputs {
                all: &all,
                puts: &puts,
                disk: &disk,
            },
            "rheo",
        );
        let met: Vec<Option<bool>> = c.iter().map(|c| c.met).collect();
        // Medians: put 120k (24x kinesalite, 3x ferrokinesis), get 120k
        // (12x), e2e 0.8 / 3.5 ms; half rate p99 12 ms; 100 B 250k; 262/500.
        assert_eq!(
            met,
            vec![
                Some(true),
                Some(false),
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                Some(true),
                // No limits-on/off runs given.
                None,
                // No encrypted/plain runs given.
                None,
                // No sigv4/unsigned runs given.
                None
            ],
            "{c:#?}"
        );
        assert!(c[0].measured.contains("24.00x"), "{}", c[0].measured);
        assert!(c[7].measured.contains("52%"), "{}", c[7].measured);
        assert!(
            c[7].measured.contains("the fastest of 4096 KiB, 256 KiB"),
            "{}",
            c[7].measured
        );
        let t = targets_table(&c);
        assert_eq!(t.matches("**missed**").count(), 3, "{t}");
        // Without the peers or the extra workloads nothing is claimed.
        let alone = checks(
            &Inputs {
                all: &all[2..],
                puts: &[],
                disk: &[],
            },
            "rheo",
        );
        assert_eq!(alone.iter().filter(|c| c.met.is_some()).count(), 2);
        assert!(targets_table(&alone).contains("not measured"));
        // Limits on vs off: 96% of the rate is within 5%, unless records were refused.
        let limits = |on_errors: u64| {
            let mut on = put_row(96_000.0, 96.0, None);
            on.errors = on_errors;
            vec![
                ("rheo".to_string(), LIMITS_ON.to_string(), vec![on]),
                (
                    "rheo".to_string(),
                    LIMITS_OFF.to_string(),
                    vec![put_row(100_000.0, 100.0, None)],
                ),
            ]
        };
        let last = |puts: &[(String, String, Vec<PutRow>)]| {
            checks(
                &Inputs {
                    all: &all,
                    puts,
                    disk: &disk,
                },
                "rheo",
            )
            .into_iter()
            .find(|c| c.target.contains("throughput limits"))
            .unwrap()
        };
        let clean = last(&limits(0));
        assert_eq!(clean.met, Some(true), "{clean:?}");
        assert!(clean.measured.contains("96.0%"), "{}", clean.measured);
        let throttled = last(&limits(12));
        assert_eq!(throttled.met, Some(false), "{throttled:?}");
        assert!(
            throttled.measured.contains("12 records refused"),
            "{}",
            throttled.measured
        );
        let x = extra_table(&puts);
        assert!(
            x.contains("| rheo | half-rate | 1 | 60000 | 61.0 | 1.0 / 5.0 | 2.0 / 12.0 | 50000 |"),
            "{x}"
        );
        assert!(
            x.contains("| rheo | 100B | 1 | 250000 | 25.0 | 1.0 / 5.0 | closed loop | n/a |"),
            "{x}"
        );
    }

    #[test]
    fn encryption_target_compares_encrypted_with_plain_puts() {
        let all = Vec::new();
        let disk = Vec::new();
        let enc_check = |enc: f64| {
            let puts = vec![
                (
                    "rheo".to_string(),
                    ENCRYPTED.to_string(),
                    vec![put_row(enc, 90.0, None)],
                ),
                (
                    "rheo".to_string(),
                    PLAIN.to_string(),
                    vec![put_row(100_000.0, 100.0, None)],
                ),
            ];
            checks(
                &Inputs {
                    all: &all,
                    puts: &puts,
                    disk: &disk,
                },
                "rheo",
            )
            .into_iter()
            .find(|c| c.target.contains("encryption at rest"))
            .unwrap()
        };
        let within = enc_check(90_000.0);
        assert_eq!(within.met, Some(true), "{within:?}");
        assert!(within.measured.contains("90.0%"), "{}", within.measured);
        assert_eq!(enc_check(80_000.0).met, Some(false));
    }

    #[test]
    fn sigv4_target_compares_signed_with_unsigned_puts_and_names_the_row() {
        let all = Vec::new();
        let disk = Vec::new();
        let puts_with = |signed: f64, errors: u64| {
            let mut row = put_row(signed, 90.0, None);
            row.errors = errors;
            row.label = Some("Rheo (sigv4)".into());
            vec![
                ("rheo".to_string(), SIGV4.to_string(), vec![row]),
                (
                    "rheo".to_string(),
                    UNSIGNED.to_string(),
                    vec![put_row(100_000.0, 100.0, None)],
                ),
            ]
        };
        let check = |puts: &[(String, String, Vec<PutRow>)]| {
            checks(
                &Inputs {
                    all: &all,
                    puts,
                    disk: &disk,
                },
                "rheo",
            )
            .into_iter()
            .find(|c| c.target.contains("--auth sigv4"))
            .unwrap()
        };
        let within = check(&puts_with(91_000.0, 0));
        assert_eq!(within.met, Some(true), "{within:?}");
        assert!(within.measured.contains("91.0%"), "{}", within.measured);
        assert_eq!(check(&puts_with(89_000.0, 0)).met, Some(false));
        let refused = check(&puts_with(95_000.0, 7));
        assert_eq!(refused.met, Some(false), "{refused:?}");
        assert!(
            refused.measured.contains("7 records refused"),
            "{}",
            refused.measured
        );
        let x = extra_table(&puts_with(91_000.0, 0));
        assert!(x.contains("| Rheo (sigv4) | sigv4 | 1 | 91000 |"), "{x}");
        assert!(x.contains("| rheo | unsigned | 1 | 100000 |"), "{x}");
        // The label a put run's JSON carries is read back.
        let line = r#"{"records_per_sec":1.0,"mb_per_sec":1.0,"latency":{"p50_ms":1.0,"p99_ms":2.0},"label":"Rheo (sigv4)"}"#;
        assert_eq!(
            PutRow::from_json(line).unwrap().label.as_deref(),
            Some("Rheo (sigv4)")
        );
    }
}
