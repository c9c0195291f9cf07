//! `GET /metrics`: Prometheus text format (0.0.4), on the API port and, with
//! `--metrics-port`, on a port of its own.
//!
//! Three parts: the AWS/Kinesis metrics CloudWatch publishes, under their CloudWatch names
//! (`kinesis_IncomingBytes_total`, `kinesis_PutRecords_Latency`, ...; shard-level ones as
//! `kinesis_shard_*`, shown only for the metrics enhanced monitoring enabled); the storage
//! engine's own (group writes, queue, damage); the process and HTTP front's. The counters live
//! where the facts are (rheo-streams, rheo-log, rheo-http); this module only renders them. The
//! mapping from CloudWatch statistics to PromQL is in `docs/design/metrics.md`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use rheo_api_kinesis::Operation;
use rheo_stdx::hist::HistogramSnapshot;
use rheo_streams::metrics::{OpMetrics, StreamMetricsView};
use rheo_streams::Streams;

/// The exposition format's content type (text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The statuses requests are counted under; anything else is "other".
const STATUSES: [u16; 10] = [200, 400, 403, 404, 405, 409, 413, 429, 500, 503];
const STATUS_SLOTS: usize = STATUSES.len() + 1;
const OP_SLOTS: usize = Operation::ALL.len() + 1;

/// Requests by operation (the last row: no operation resolved) and status, counted by the
/// HTTP front with one atomic add.
static REQUESTS: [[AtomicU64; STATUS_SLOTS]; OP_SLOTS] =
    [const { [const { AtomicU64::new(0) }; STATUS_SLOTS] }; OP_SLOTS];

/// Counts one answered request.
pub fn count_request(op: Option<Operation>, status: u16) {
    let row = op.map_or(OP_SLOTS - 1, |o| (o as usize).min(OP_SLOTS - 1));
    let col = STATUSES
        .iter()
        .position(|s| *s == status)
        .unwrap_or(STATUS_SLOTS - 1);
    if let Some(c) = REQUESTS.get(row).and_then(|r| r.get(col)) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format asks.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Builds the text, one family at a time: HELP and TYPE once, then its samples.
struct Text {
    out: String,
}

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }

    /// One unlabelled sample in its own family.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, "", value);
    }

    /// A histogram's samples; bounds and sum are divided by `scale` (microseconds to
    /// milliseconds or seconds, say).
    fn histogram(&mut self, name: &str, labels: &str, h: &HistogramSnapshot, scale: f64) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in &h.buckets {
            let le = *bound as f64 / scale;
            self.sample(
                &format!("{name}_bucket"),
                &format!("{labels}{sep}le=\"{le}\""),
                count,
            );
        }
        self.sample(
            &format!("{name}_bucket"),
            &format!("{labels}{sep}le=\"+Inf\""),
            h.count,
        );
        self.sample(&format!("{name}_sum"), labels, h.sum as f64 / scale);
        self.sample(&format!("{name}_count"), labels, h.count);
    }

    /// A Success metric as a summary without quantiles: `_sum` the successful calls, `_count`
    /// every call, so `_sum / _count` is CloudWatch's Average (the success rate).
    fn success(&mut self, name: &str, labels: &str, successes: u64, attempts: u64) {
        self.sample(&format!("{name}_sum"), labels, successes);
        self.sample(&format!("{name}_count"), labels, attempts.max(successes));
    }
}

fn stream_labels(v: &StreamMetricsView) -> String {
    format!(
        "stream_name=\"{}\",account=\"{}\",region=\"{}\"",
        escape(&v.name),
        escape(&v.account),
        escape(&v.region)
    )
}

/// A per-stream family: one sample (or sample group) per stream.
fn per_stream(
    t: &mut Text,
    views: &[(String, StreamMetricsView)],
    name: &str,
    kind: &str,
    help: &str,
    mut each: impl FnMut(&mut Text, &str, &StreamMetricsView),
) {
    t.family(name, kind, help);
    for (labels, v) in views {
        each(t, labels, v);
    }
}

const MS: f64 = 1_000.0;

fn op_families(
    t: &mut Text,
    views: &[(String, StreamMetricsView)],
    op: &str,
    pick: fn(&StreamMetricsView) -> &OpMetrics,
) {
    per_stream(
        t,
        views,
        &format!("kinesis_{op}_Latency"),
        "histogram",
        &format!(
            "CloudWatch {op}.Latency: time per {op} call that reached its stream, in milliseconds."
        ),
        |t, l, v| {
            t.histogram(
                &format!("kinesis_{op}_Latency"),
                l,
                &pick(v).latency_us.snapshot(),
                MS,
            )
        },
    );
    per_stream(
        t,
        views,
        &format!("kinesis_{op}_Success"),
        "summary",
        &format!("CloudWatch {op}.Success: _sum counts successful {op} calls, _count all of them (Average = _sum/_count)."),
        |t, l, v| {
            let m = pick(v);
            t.success(
                &format!("kinesis_{op}_Success"),
                l,
                m.successes.get(),
                m.attempts.get(),
            )
        },
    );
}

fn kinesis(t: &mut Text, views: &[(String, StreamMetricsView)]) {
    type Pick = fn(&StreamMetricsView) -> u64;
    let counters: [(&str, &str, Pick); 16] = [
        ("IncomingBytes", "Bytes (data plus partition key) successfully put by PutRecord and PutRecords.", |v| v.stream.incoming_bytes.get()),
        ("IncomingRecords", "Records successfully put by PutRecord and PutRecords.", |v| v.stream.incoming_records.get()),
        ("PutRecord_Bytes", "Bytes put by PutRecord.", |v| v.stream.put_record_bytes.get()),
        ("PutRecords_Bytes", "Bytes put by PutRecords.", |v| v.stream.put_records_bytes.get()),
        ("PutRecords_Records", "Records successfully put by PutRecords (CloudWatch's deprecated name for SuccessfulRecords).", |v| v.stream.put_records_successful.get()),
        ("PutRecords_SuccessfulRecords", "Records PutRecords wrote.", |v| v.stream.put_records_successful.get()),
        ("PutRecords_FailedRecords", "Records PutRecords refused for an internal failure.", |v| v.stream.put_records_failed.get()),
        ("PutRecords_ThrottledRecords", "Records PutRecords refused for throttling.", |v| v.stream.put_records_throttled.get()),
        ("PutRecords_TotalRecords", "Records sent in PutRecords calls.", |v| v.stream.put_records_total.get()),
        ("GetRecords_Bytes", "Bytes (data plus partition key) GetRecords returned.", |v| v.stream.get_records_bytes.get()),
        ("GetRecords_Records", "Records GetRecords returned.", |v| v.stream.get_records_records.get()),
        ("ReadProvisionedThroughputExceeded", "GetRecords calls throttled.", |v| v.stream.read_throttled.get()),
        ("WriteProvisionedThroughputExceeded", "Records refused for throttling by PutRecord and PutRecords.", |v| v.stream.write_throttled.get()),
        ("SubscribeToShard_RateExceeded", "SubscribeToShard calls refused because the consumer already had a subscription to the shard.", |v| v.stream.subscribe_rate_exceeded.get()),
        ("SubscribeToShard_Attempts", "SubscribeToShard calls that reached their stream (not a CloudWatch metric: the Success sample count).", |v| v.stream.subscribe_attempts.get()),
        ("SubscribeToShard_Successes", "SubscribeToShard calls that started a subscription (not a CloudWatch metric: the Success sum).", |v| v.stream.subscribe_successes.get()),
    ];
    for (name, help, pick) in counters {
        let family = format!("kinesis_{name}_total");
        let cw = name.replacen('_', ".", 1);
        per_stream(
            t,
            views,
            &family,
            "counter",
            &format!("CloudWatch {cw}: {help}"),
            |t, l, v| t.sample(&family, l, pick(v)),
        );
    }
    op_families(t, views, "PutRecord", |v| &v.stream.put_record);
    op_families(t, views, "PutRecords", |v| &v.stream.put_records);
    op_families(t, views, "GetRecords", |v| &v.stream.get_records);
    per_stream(
        t,
        views,
        "kinesis_GetRecords_IteratorAgeMilliseconds",
        "histogram",
        "CloudWatch GetRecords.IteratorAgeMilliseconds: age of the last record each GetRecords call returned (0 for none), in milliseconds.",
        |t, l, v| {
            t.histogram(
                "kinesis_GetRecords_IteratorAgeMilliseconds",
                l,
                &v.stream.get_records_iterator_age_ms.snapshot(),
                1.0,
            )
        },
    );
    per_stream(
        t,
        views,
        "kinesis_SubscribeToShard_Success",
        "summary",
        "CloudWatch SubscribeToShard.Success: _sum counts subscriptions started, _count the calls that reached their stream.",
        |t, l, v| {
            t.success(
                "kinesis_SubscribeToShard_Success",
                l,
                v.stream.subscribe_successes.get(),
                v.stream.subscribe_attempts.get(),
            )
        },
    );

    // Per consumer: the registered ones only.
    let consumers: Vec<(
        String,
        std::sync::Arc<rheo_streams::metrics::ConsumerMetrics>,
    )> = views
        .iter()
        .flat_map(|(l, v)| {
            v.stream
                .consumers()
                .into_iter()
                .filter(|(name, _)| v.consumers.contains(name))
                .map(move |(name, m)| (format!("{l},consumer_name=\"{}\"", escape(&name)), m))
        })
        .collect();
    type PickC = fn(&rheo_streams::metrics::ConsumerMetrics) -> u64;
    let event_counters: [(&str, &str, PickC); 2] = [
        (
            "Bytes",
            "Bytes (data plus partition key) pushed in SubscribeToShard events.",
            |m| m.event_bytes.get(),
        ),
        (
            "Records",
            "Records pushed in SubscribeToShard events.",
            |m| m.event_records.get(),
        ),
    ];
    for (name, help, pick) in event_counters {
        let family = format!("kinesis_SubscribeToShardEvent_{name}_total");
        t.family(
            &family,
            "counter",
            &format!("CloudWatch SubscribeToShardEvent.{name}: {help}"),
        );
        for (l, m) in &consumers {
            t.sample(&family, l, pick(m));
        }
    }
    t.family(
        "kinesis_SubscribeToShardEvent_Success",
        "summary",
        "CloudWatch SubscribeToShardEvent.Success: _sum counts events pushed, _count events attempted.",
    );
    for (l, m) in &consumers {
        t.success(
            "kinesis_SubscribeToShardEvent_Success",
            l,
            m.event_successes.get(),
            m.events.get(),
        );
    }
    t.family(
        "kinesis_SubscribeToShardEvent_MillisBehindLatest",
        "gauge",
        "CloudWatch SubscribeToShardEvent.MillisBehindLatest: how far behind the shard's tip the consumer's last event was, in milliseconds.",
    );
    for (l, m) in &consumers {
        t.sample(
            "kinesis_SubscribeToShardEvent_MillisBehindLatest",
            l,
            m.millis_behind_latest(),
        );
    }

    // Shard level: only the metrics enhanced monitoring enabled on the stream, as AWS
    // publishes them only then. A family with no enabled stream is left out entirely.
    type PickS = fn(&rheo_streams::metrics::ShardMetrics) -> i64;
    let shard: [(&str, &str, &str, PickS); 7] = [
        ("IncomingBytes", "counter", "Bytes (data plus partition key) successfully put to the shard.", |m| m.incoming_bytes.get() as i64),
        ("IncomingRecords", "counter", "Records successfully put to the shard.", |m| m.incoming_records.get() as i64),
        ("OutgoingBytes", "counter", "Bytes read from the shard (GetRecords and subscriptions).", |m| m.outgoing_bytes.get() as i64),
        ("OutgoingRecords", "counter", "Records read from the shard (GetRecords and subscriptions).", |m| m.outgoing_records.get() as i64),
        ("ReadProvisionedThroughputExceeded", "counter", "GetRecords calls on the shard throttled.", |m| m.read_throttled.get() as i64),
        ("WriteProvisionedThroughputExceeded", "counter", "Records refused for throttling by the shard.", |m| m.write_throttled.get() as i64),
        ("IteratorAgeMilliseconds", "gauge", "Age of the last record the shard's latest read returned (0 for none), in milliseconds.", |m| m.iterator_age_ms()),
    ];
    for (metric, kind, help, pick) in shard {
        let enabled: Vec<&(String, StreamMetricsView)> =
            views.iter().filter(|(_, v)| v.enhanced(metric)).collect();
        if enabled.is_empty() {
            continue;
        }
        let family = if kind == "counter" {
            format!("kinesis_shard_{metric}_total")
        } else {
            format!("kinesis_shard_{metric}")
        };
        t.family(
            &family,
            kind,
            &format!("CloudWatch {metric} (shard level, enhanced monitoring): {help}"),
        );
        for (l, v) in enabled {
            for (id, m) in &v.shards {
                t.sample(
                    &family,
                    &format!("{l},shard_id=\"{}\"", escape(id)),
                    pick(m),
                );
            }
        }
    }
}

fn storage(t: &mut Text, streams: &Streams, views: &[(String, StreamMetricsView)]) {
    let store = streams.store();
    let stats = store.stats();
    t.single("rheo_storage_corruption_events_total", "counter", "Damage found since start (each damaged region at open, each refused read); torn tails are not counted.", store.corruption_events());
    t.single("rheo_storage_damaged_entries", "gauge", "Log entries in damaged ranges, refused to readers until `rheo fsck --repair` marks them lost.", stats.damaged_entries);
    t.single(
        "rheo_storage_lost_entries",
        "gauge",
        "Log entries `rheo fsck --repair` marked lost; readers move past them.",
        stats.lost_entries,
    );
    t.single(
        "rheo_audit_events_dropped_total",
        "counter",
        "Audit log lines dropped because the writer could not keep up (or could not write).",
        rheo_audit::dropped_events_total(),
    );
    t.single(
        "rheo_streams_damaged_metadata",
        "gauge",
        "Streams whose catalog metadata is damaged and that are refused until repaired.",
        streams.damaged_metadata().len() as u64,
    );
    t.single(
        "rheo_streams_orphan_logs",
        "gauge",
        "Logs no stream names (a deleted or damaged catalog entry's data), kept untouched.",
        streams.orphan_logs().len() as u64,
    );
    t.single(
        "rheo_storage_segments",
        "gauge",
        "Journal segment files on disk.",
        stats.segments,
    );
    t.single(
        "rheo_storage_disk_bytes",
        "gauge",
        "Bytes of journal segment files on disk (in memory: payload bytes held).",
        stats.disk_bytes,
    );
    t.single(
        "rheo_storage_logs",
        "gauge",
        "Logs held by the engine.",
        stats.logs,
    );
    t.single(
        "rheo_storage_appends_total",
        "counter",
        "Append calls accepted by the engine.",
        stats.appends,
    );
    t.single(
        "rheo_storage_write_batches_total",
        "counter",
        "Group-commit writes to the journal.",
        stats.write_batches,
    );
    t.single(
        "rheo_storage_fsyncs_total",
        "counter",
        "fdatasync calls on journal segments (an O_DSYNC write counts as one).",
        stats.fsyncs,
    );
    t.single(
        "rheo_storage_blocking_reads_total",
        "counter",
        "Reads the recent-entries cache could not answer, run off the runtime threads.",
        stats.blocking_reads,
    );
    t.single("rheo_storage_writer_queue_bytes_peak", "gauge", "Most payload bytes the writer's queue has held at once (bounded by --writer-queue-bytes-max).", stats.writer_queue_bytes_peak);
    t.single(
        "rheo_storage_writer_queue_bytes",
        "gauge",
        "Payload bytes waiting in the writer's queue now.",
        stats.writer_queue_bytes,
    );
    let groups = store.group_stats();
    t.family("rheo_storage_group_write_seconds", "histogram", "Time of each durable group write of the journal: the write plus its fsync (or the O_DSYNC write).");
    t.histogram(
        "rheo_storage_group_write_seconds",
        "",
        &groups.write_us.snapshot(),
        1_000_000.0,
    );
    t.family(
        "rheo_storage_group_entries",
        "histogram",
        "Entries in each group write (every log's).",
    );
    t.histogram(
        "rheo_storage_group_entries",
        "",
        &groups.entries.snapshot(),
        1.0,
    );
    t.family(
        "rheo_storage_group_bytes",
        "histogram",
        "Bytes of each group write as written (frames and headers).",
    );
    t.histogram(
        "rheo_storage_group_bytes",
        "",
        &groups.bytes.snapshot(),
        1.0,
    );

    let by_log: std::collections::HashMap<u64, u64> = store
        .log_bytes()
        .into_iter()
        .map(|(l, b)| (l.0, b))
        .collect();
    t.family("rheo_stream_disk_bytes", "gauge", "Bytes of a stream's records in the journal (its shards' live data frames; in memory: payload bytes).");
    for (l, v) in views {
        let bytes: u64 = v.logs.iter().filter_map(|log| by_log.get(log)).sum();
        t.sample("rheo_stream_disk_bytes", l, bytes);
    }
}

fn process(t: &mut Text) {
    t.single(
        "rheo_http_requests_total",
        "counter",
        "Requests served by the HTTP front.",
        crate::memory::requests(),
    );
    t.family("rheo_http_requests_by_operation_total", "counter", "Requests answered, by operation (\"none\": no operation resolved, e.g. /metrics or a bad target) and HTTP status.");
    let names = Operation::ALL
        .iter()
        .map(|o| (*o as usize, o.name()))
        .chain(std::iter::once((OP_SLOTS - 1, "none")));
    for (row, name) in names {
        let Some(counts) = REQUESTS.get(row) else {
            continue;
        };
        for (col, c) in counts.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let status = STATUSES
                .get(col)
                .map_or_else(|| "other".to_string(), |s| s.to_string());
            t.sample(
                "rheo_http_requests_by_operation_total",
                &format!("operation=\"{name}\",status=\"{status}\""),
                n,
            );
        }
    }
    t.single(
        "rheo_http_open_connections",
        "gauge",
        "Connections being served now (every listener).",
        rheo_http::stats::open_connections(),
    );
    t.single(
        "rheo_http_connections_accepted_total",
        "counter",
        "Connections accepted since start (every listener).",
        rheo_http::stats::accepted_connections(),
    );
    if let Some(rss) = crate::memory::resident_bytes() {
        t.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident set size of the server process.",
            rss,
        );
    }
}

/// Renders every metric. Cheap (atomics, one short read lock per stream, a walk over the
/// journal's segment map), so no caching.
pub async fn render(streams: &Streams) -> String {
    let views: Vec<(String, StreamMetricsView)> = streams
        .metrics_views()
        .await
        .into_iter()
        .map(|v| (stream_labels(&v), v))
        .collect();
    let mut t = Text {
        out: String::with_capacity(16 * 1024),
    };
    kinesis(&mut t, &views);
    storage(&mut t, streams, &views);
    process(&mut t);
    t.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn histograms_render_cumulative_buckets_in_the_scaled_unit() {
        static B: [u64; 2] = [500, 1_000];
        let h = rheo_stdx::hist::Histogram::new(&B);
        h.observe(400);
        h.observe(2_000);
        let mut t = Text { out: String::new() };
        t.histogram("x", "a=\"1\"", &h.snapshot(), 1_000.0);
        assert_eq!(
            t.out,
            "x_bucket{a=\"1\",le=\"0.5\"} 1\nx_bucket{a=\"1\",le=\"1\"} 1\n\
             x_bucket{a=\"1\",le=\"+Inf\"} 2\nx_sum{a=\"1\"} 2.4\nx_count{a=\"1\"} 2\n"
        );
    }

    #[test]
    fn requests_are_counted_by_operation_and_status() {
        count_request(Some(Operation::ListShards), 200);
        count_request(Some(Operation::ListShards), 418);
        count_request(None, 404);
        let mut t = Text { out: String::new() };
        process(&mut t);
        assert!(t.out.contains(
            "rheo_http_requests_by_operation_total{operation=\"ListShards\",status=\"200\"}"
        ));
        assert!(t.out.contains(
            "rheo_http_requests_by_operation_total{operation=\"ListShards\",status=\"other\"}"
        ));
        assert!(t
            .out
            .contains("rheo_http_requests_by_operation_total{operation=\"none\",status=\"404\"}"));
    }
}
