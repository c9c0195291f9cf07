"""Groups `perf report --no-children --sort symbol --stdio` self-time shares into categories
and converts them to microseconds of server CPU per record (used by scripts/profile.sh)."""
import argparse
import re
import sys

# First match wins; patterns are searched in the symbol name.
CATEGORIES = [
    ("journal write: page-cache copy", r"copy_folio_from_iter|generic_perform_write|ext4_da_write|ext4_buffered"),
    ("journal write: direct I/O and fsync", r"iomap|blk_|virtio|iowrite|ext4_sync|jbd2|fdatasync|submit_bio|dio_|gup_|bio_"),
    ("kernel copies to user (socket receive, journal pread)", r"_copy_to_iter"),
    ("socket send and TCP", r"_copy_from_iter|tcp_|skb|__dev_queue|ip_|sock_|net_rx|loopback|__netif"),
    ("page-cache reads (pread)", r"filemap_|copy_page_to_iter|ext4_file_read|readahead"),
    ("scheduling, wake-ups, futex, epoll", r"finish_task_switch|schedule|futex|_raw_spin_unlock|try_to_wake|epoll|ep_poll|__lll_lock|syscall|do_syscall|entry_SYSCALL|irqentry|handle_softirqs|sysvec|native_queued"),
    ("memory: page faults, zeroing", r"exc_page_fault|clear_page|do_anonymous_page|handle_mm_fault|__memset|alloc_pages|_frozen_pages|memcg|lruvec|unmap_page|folio|__list_del|__pv_queued"),
    ("base64", r"base64"),
    ("JSON parse/encode", r"serde_json|serde_core|json_str|json_node|rheo_api_kinesis::fast|rheo_proto::encode|itoa|from_utf8"),
    ("CBOR / generic tree / validation", r"rheo_proto::(raw|decode|validate|node)|rheo_api_kinesis::ops|ciborium|drop_in_place<rheo_(proto|api_kinesis)"),
    ("MD5 routing", r"md5|partition_key_hash"),
    ("CRC32C", r"crc32c"),
    ("memcpy (user space)", r"memmove|memcpy"),
    ("allocation", r"malloc|_int_free|cfree|realloc|unlink_chunk|free@|alloc::|_int_realloc"),
    ("HTTP (hyper)", r"hyper|http::|h2::|httparse"),
    ("async runtime (tokio)", r"tokio"),
    ("domain and log (rheo_streams, rheo_log)", r"rheo_streams|rheo_log"),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", required=True)
    ap.add_argument("--cpu-seconds", type=float, required=True)
    ap.add_argument("--records", type=float, required=True)
    a = ap.parse_args()
    shares: dict[str, float] = {}
    line_re = re.compile(r"^\s+([0-9.]+)%\s+(?:\S+\s+)?\[[.k]\]\s+(.*?)\s*$")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        pct, sym = float(m.group(1)), m.group(2)
        cat = next((c for c, pat in CATEGORIES if re.search(pat, sym)), "other")
        shares[cat] = shares.get(cat, 0.0) + pct
    total = sum(shares.values()) or 1.0
    per_record_us = a.cpu_seconds * 1e6 / a.records if a.records > 0 else float("nan")
    print(f"server CPU {a.cpu_seconds:.2f} s for {a.records:.0f} records: {per_record_us:.2f} us per record")
    print()
    print("| share | us/record | category |")
    print("|---:|---:|---|")
    for cat, pct in sorted(shares.items(), key=lambda kv: -kv[1]):
        share = pct / total
        print(f"| {share * 100:.1f} % | {share * per_record_us:.2f} | {cat} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
