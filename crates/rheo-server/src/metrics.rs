//! `GET /metrics`: the server's own state in Prometheus text format, on the API port.
//!
//! Today it carries the storage engine's counters and the damage it knows of, so corruption
//! found at open or by a read is visible to monitoring, not only in an ERROR line. The
//! CloudWatch-named stream metrics join it with the operations work (see the security and
//! operations issue).

use std::fmt::Write as _;

use rheo_streams::Streams;

/// The exposition format's content type (text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric; cheap (counters and a walk over the damage list), so no caching.
pub fn render(streams: &Streams) -> String {
    let store = streams.store();
    let stats = store.stats();
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "rheo_storage_corruption_events_total",
        "counter",
        "Damage found since start (each damaged region at open, each refused read); torn tails are not counted.",
        store.corruption_events(),
    );
    metric(
        "rheo_storage_damaged_entries",
        "gauge",
        "Log entries in damaged ranges, refused to readers until `rheo fsck --repair` marks them lost.",
        stats.damaged_entries,
    );
    metric(
        "rheo_storage_lost_entries",
        "gauge",
        "Log entries `rheo fsck --repair` marked lost; readers move past them.",
        stats.lost_entries,
    );
    metric(
        "rheo_audit_events_dropped_total",
        "counter",
        "Audit log lines dropped because the writer could not keep up (or could not write).",
        rheo_audit::dropped_events_total(),
    );
    metric(
        "rheo_streams_damaged_metadata",
        "gauge",
        "Streams whose catalog metadata is damaged and that are refused until repaired.",
        streams.damaged_metadata().len() as u64,
    );
    metric(
        "rheo_streams_orphan_logs",
        "gauge",
        "Logs no stream names (a deleted or damaged catalog entry's data), kept untouched.",
        streams.orphan_logs().len() as u64,
    );
    metric(
        "rheo_storage_segments",
        "gauge",
        "Journal segment files on disk.",
        stats.segments,
    );
    metric(
        "rheo_storage_disk_bytes",
        "gauge",
        "Bytes of journal segment files on disk (in memory: payload bytes held).",
        stats.disk_bytes,
    );
    metric(
        "rheo_storage_logs",
        "gauge",
        "Logs held by the engine.",
        stats.logs,
    );
    metric(
        "rheo_storage_appends_total",
        "counter",
        "Append calls accepted by the engine.",
        stats.appends,
    );
    metric(
        "rheo_storage_write_batches_total",
        "counter",
        "Group-commit writes to the journal.",
        stats.write_batches,
    );
    metric(
        "rheo_storage_fsyncs_total",
        "counter",
        "fdatasync calls on journal segments.",
        stats.fsyncs,
    );
    metric(
        "rheo_storage_blocking_reads_total",
        "counter",
        "Reads the recent-entries cache could not answer, run off the runtime threads.",
        stats.blocking_reads,
    );
    metric(
        "rheo_storage_writer_queue_bytes_peak",
        "gauge",
        "Most payload bytes the writer's queue has held at once (bounded by --writer-queue-bytes-max).",
        stats.writer_queue_bytes_peak,
    );
    metric(
        "rheo_http_requests_total",
        "counter",
        "Requests served by the HTTP front.",
        crate::memory::requests(),
    );
    out
}
