//! The result of `all` and the peer-comparison table built from several runs
//! of it (medians per server, ratios to a baseline server).

use serde::{Deserialize, Serialize};

use crate::e2e::E2eReport;
use crate::get::GetReport;
use crate::put::PutReport;
use crate::verify::Verification;

#[derive(Debug, Clone, Serialize)]
pub struct AllReport {
    pub label: String,
    pub endpoint: String,
    pub stream: String,
    pub shards: usize,
    pub put: PutReport,
    pub get: GetReport,
    pub verification: Verification,
    pub e2e: E2eReport,
    pub ok: bool,
}

/// The figures of one `all` run that the comparison table uses. Read back
/// from the JSON lines `all --json` printed, so only these paths matter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub put_rps: f64,
    pub put_mbps: f64,
    pub put_p50: f64,
    pub put_p99: f64,
    pub get_rps: f64,
    pub e2e_p50: f64,
    pub e2e_p99: f64,
    pub cpu_cores: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub ok: bool,
}

#[derive(Deserialize)]
struct GetIn {
    records_per_sec: f64,
    server: Option<crate::readback::Use>,
}
#[derive(Deserialize)]
struct E2eIn {
    latency: crate::readback::Lat,
    server: Option<crate::readback::Use>,
}
#[derive(Deserialize)]
struct AllIn {
    put: crate::readback::PutIn,
    get: GetIn,
    e2e: E2eIn,
    ok: bool,
}

impl Row {
    pub fn from_json(line: &str) -> Result<Row, serde_json::Error> {
        let a: AllIn = serde_json::from_str(line)?;
        let peak = [&a.put.server, &a.get.server, &a.e2e.server]
            .iter()
            .filter_map(|u| u.as_ref().map(|u| u.peak_rss_mb))
            .reduce(f64::max);
        Ok(Row {
            put_rps: a.put.records_per_sec,
            put_mbps: a.put.mb_per_sec,
            put_p50: a.put.latency.p50_ms,
            put_p99: a.put.latency.p99_ms,
            get_rps: a.get.records_per_sec,
            e2e_p50: a.e2e.latency.p50_ms,
            e2e_p99: a.e2e.latency.p99_ms,
            // "Server CPU" is the put phase's: the phase that loads it most.
            cpu_cores: a.put.server.as_ref().map(|u| u.cpu_cores),
            peak_rss_mb: peak,
            ok: a.ok,
        })
    }
}

/// Median of the values (mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let hi = v.get(n / 2).copied()?;
    if n % 2 == 1 {
        Some(hi)
    } else {
        Some((v.get(n / 2 - 1).copied()? + hi) / 2.0)
    }
}

/// Per-column medians of several runs of one server.
pub fn median_row(rows: &[Row]) -> Row {
    let col = |f: &dyn Fn(&Row) -> f64| median(rows.iter().map(f).collect()).unwrap_or(0.0);
    let opt = |f: &dyn Fn(&Row) -> Option<f64>| median(rows.iter().filter_map(f).collect());
    Row {
        put_rps: col(&|r| r.put_rps),
        put_mbps: col(&|r| r.put_mbps),
        put_p50: col(&|r| r.put_p50),
        put_p99: col(&|r| r.put_p99),
        get_rps: col(&|r| r.get_rps),
        e2e_p50: col(&|r| r.e2e_p50),
        e2e_p99: col(&|r| r.e2e_p99),
        cpu_cores: opt(&|r| r.cpu_cores),
        peak_rss_mb: opt(&|r| r.peak_rss_mb),
        ok: rows.iter().all(|r| r.ok),
    }
}

fn opt_fmt(v: Option<f64>, prec: usize, unit: &str) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.prec$}{unit}"))
}

/// The Markdown row `all` prints for a single run.
pub fn markdown_header() -> &'static str {
    "| server | put rec/s | put MB/s | put p50 / p99 ms | get rec/s | e2e p50 / p99 ms | server CPU (cores) | server peak RSS | verified |\n\
     |---|---:|---:|---:|---:|---:|---:|---:|---|"
}

pub fn markdown_row(label: &str, r: &Row, runs: usize) -> String {
    let verified = if r.ok {
        format!("yes ({runs}/{runs})")
    } else {
        "**NO**".to_string()
    };
    format!(
        "| {label} | {:.0} | {:.1} | {:.1} / {:.1} | {:.0} | {:.1} / {:.1} | {} | {} | {verified} |",
        r.put_rps,
        r.put_mbps,
        r.put_p50,
        r.put_p99,
        r.get_rps,
        r.e2e_p50,
        r.e2e_p99,
        opt_fmt(r.cpu_cores, 2, ""),
        opt_fmt(r.peak_rss_mb, 0, " MB"),
    )
}

fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 && x.is_finite() {
        format!("{:.2}x", x / base)
    } else {
        "n/a".into()
    }
}

/// Comparison table: medians per server, then ratios to each baseline
/// present. `servers` is `(label, runs)` in display order.
pub fn comparison(servers: &[(String, Vec<Row>)], baselines: &[String]) -> String {
    let mut out = String::new();
    out.push_str(markdown_header());
    out.push('\n');
    let medians: Vec<(&str, Row, usize)> = servers
        .iter()
        .map(|(l, rows)| (l.as_str(), median_row(rows), rows.len()))
        .collect();
    for (label, row, n) in &medians {
        out.push_str(&markdown_row(label, row, *n));
        out.push('\n');
    }
    for baseline in baselines {
        let Some((_, base, _)) = medians.iter().find(|(l, _, _)| l == baseline) else {
            continue;
        };
        out.push_str(&format!(
            "\nRatios to {baseline} (throughput: higher is better; latency: lower is better):\n\n"
        ));
        out.push_str("| server | put rec/s | put p99 | get rec/s | e2e p50 | e2e p99 |\n|---|---:|---:|---:|---:|---:|\n");
        for (label, r, _) in &medians {
            out.push_str(&format!(
                "| {label} | {} | {} | {} | {} | {} |\n",
                ratio(r.put_rps, base.put_rps),
                ratio(r.put_p99, base.put_p99),
                ratio(r.get_rps, base.get_rps),
                ratio(r.e2e_p50, base.e2e_p50),
                ratio(r.e2e_p99, base.e2e_p99),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(put: f64, ok: bool) -> Row {
        Row {
            put_rps: put,
            put_mbps: put / 1000.0,
            put_p50: 1.0,
            put_p99: 2.0,
            get_rps: put * 2.0,
            e2e_p50: 3.0,
            e2e_p99: 4.0,
            cpu_cores: Some(1.0),
            peak_rss_mb: Some(100.0),
            ok,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN, 5.0]), Some(5.0));
        let m = median_row(&[row(10.0, true), row(30.0, true), row(20.0, false)]);
        assert_eq!(m.put_rps, 20.0);
        assert_eq!(m.get_rps, 40.0);
        assert!(!m.ok);
    }

    #[test]
    fn parses_all_json_and_takes_peak_rss_over_phases() {
        let line = r#"{"label":"x","put":{"records_per_sec":1000.5,"mb_per_sec":1.02,
            "latency":{"p50_ms":3.0,"p99_ms":9.5},"server":{"cpu_cores":0.9,"peak_rss_mb":80.0,"cpu_seconds":9.0}},
            "get":{"records_per_sec":5000.0,"server":{"cpu_cores":0.5,"peak_rss_mb":120.0,"cpu_seconds":1.0}},
            "e2e":{"latency":{"p50_ms":1.5,"p99_ms":4.0},"server":null},"ok":true}"#;
        let r = Row::from_json(line).unwrap();
        assert_eq!(r.put_rps, 1000.5);
        assert_eq!(r.put_p99, 9.5);
        assert_eq!(r.get_rps, 5000.0);
        assert_eq!(r.e2e_p50, 1.5);
        assert_eq!(r.cpu_cores, Some(0.9));
        assert_eq!(r.peak_rss_mb, Some(120.0));
        assert!(r.ok);
        assert!(Row::from_json("{}").is_err());
    }

    #[test]
    fn comparison_has_rows_and_ratios() {
        let t = comparison(
            &[
                ("kinesalite".into(), vec![row(1000.0, true)]),
                ("ferrokinesis".into(), vec![row(2000.0, true)]),
                ("rheo".into(), vec![row(4000.0, true), row(6000.0, true)]),
            ],
            &["kinesalite".into(), "ferrokinesis".into()],
        );
        assert!(t.contains("| kinesalite | 1000 |"), "{t}");
        assert!(t.contains("| rheo | 5000 |"), "{t}");
        assert!(t.contains("| rheo | 5.00x |"), "{t}");
        assert!(t.contains("Ratios to ferrokinesis"), "{t}");
        assert!(t.contains("| rheo | 2.50x |"), "{t}");
        assert!(t.contains("yes (2/2)"), "{t}");
        let no_base = comparison(
            &[("rheo".into(), vec![row(1.0, false)])],
            &["kinesalite".into()],
        );
        assert!(!no_base.contains("Ratios"));
        assert!(no_base.contains("**NO**"));
    }
}
