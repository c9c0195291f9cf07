//! What a new user meets first: the binary's flags, env vars, start-up log and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

fn rheo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rheo"));
    c.env_remove("RUST_BACKTRACE").env_remove("RHEO_LOG");
    c
}

/// Starts `rheo serve` with `args`/`envs`, waits for the ready line, returns the log lines up to it.
fn ready_log(args: &[&str], envs: &[(&str, &str)]) -> Vec<String> {
    let mut child = rheo()
        .arg("serve")
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("rheo ready");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        lines.last().is_some_and(|l| l.contains("rheo ready")),
        "{lines:?}"
    );
    lines
}

#[test]
fn boolish_env_host_name_and_size_units_are_accepted() {
    for on in ["1", "yes", "true"] {
        let log = ready_log(
            &[
                "--port",
                "0",
                "--host",
                "localhost",
                "--max-body-bytes",
                "16MiB",
            ],
            &[("RHEO_IN_MEMORY", on)],
        );
        let ready = log.last().unwrap();
        assert!(ready.contains("storage=memory"), "{ready}");
        // Plain text: stderr is a pipe here.
        assert!(log.iter().all(|l| !l.contains('\x1b')), "{log:?}");
        assert!(!ready.contains("Some("), "{ready}");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = ready_log(
        &["--port", "0", "--data-dir", data.to_str().unwrap()],
        &[("RHEO_IN_MEMORY", "0")],
    );
    let ready = log.last().unwrap();
    assert!(
        ready.contains(&format!("storage={}", data.display())),
        "{ready}"
    );
}

#[test]
fn throughput_limits_are_on_unless_switched_off_and_the_ready_line_says_which() {
    let ready = ready_log(&["--port", "0", "--in-memory"], &[]);
    assert!(
        ready.last().unwrap().contains("throughput_limits=on"),
        "{ready:?}"
    );
    for off in ["0", "no", "false", "off"] {
        let log = ready_log(
            &["--port", "0", "--in-memory"],
            &[("RHEO_THROUGHPUT_LIMITS", off)],
        );
        let ready = log.last().unwrap();
        assert!(ready.contains("throughput_limits=off"), "{off}: {ready}");
    }
    let log = ready_log(
        &["--port", "0", "--in-memory", "--throughput-limits", "on"],
        &[("RHEO_THROUGHPUT_LIMITS", "off")],
    );
    assert!(
        log.last().unwrap().contains("throughput_limits=on"),
        "the flag wins over the env: {log:?}"
    );
}

#[test]
fn a_failed_bind_creates_no_data_directory() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = rheo()
        .args(["serve", "--port", &port, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on 127.0.0.1:"), "{err}");
    assert!(!data.exists(), "the data directory was created");
}

#[test]
fn start_up_errors_name_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = rheo()
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(line.contains(&file.display().to_string()), "{err}");
    assert!(!line.contains("Some("), "{err}");
    assert_eq!(line.matches("os error").count(), 1, "{err}");
    assert!(!err.contains("Caused by"), "{err}");
}

/// Sends a request on `conn` and reads until a whole status line arrives or `wait` passes.
fn status_line(conn: &mut std::net::TcpStream, wait: std::time::Duration) -> Option<String> {
    use std::io::Read as _;
    conn.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).lines().next()?.to_owned())
}

#[test]
fn connections_max_bounds_the_connections_served_at_once() {
    use std::io::Write as _;
    use std::time::Duration;
    let mut child = rheo()
        .args(["serve", "--port", "0", "--in-memory"])
        .env("RHEO_CONNECTIONS_MAX", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    // `rheo ready on http://A (auth: permissive)`: the address is the word after `http://`.
    let addr = ready
        .split_once("http://")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut first = std::net::TcpStream::connect(&addr).unwrap();
    first.write_all(request).unwrap();
    let line = status_line(&mut first, Duration::from_secs(10));
    assert!(
        line.is_some_and(|l| l.starts_with("HTTP/1.1")),
        "first served"
    );
    // The first (kept alive) holds the only slot: the second waits in the accept queue.
    let mut second = std::net::TcpStream::connect(&addr).unwrap();
    second.write_all(request).unwrap();
    assert_eq!(status_line(&mut second, Duration::from_millis(500)), None);
    drop(first);
    let line = status_line(&mut second, Duration::from_secs(10));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.is_some_and(|l| l.starts_with("HTTP/1.1")),
        "second served once the first closed"
    );
}

fn cases_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/policy/cases.json").to_string()
}

#[test]
fn policy_simulate_runs_the_case_table() {
    let out = rheo()
        .args(["policy", "simulate", "--cases", &cases_file()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{last}");
    let n: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 40, "{last}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), n);
    assert!(stdout.contains("ok    explicit deny wins over an allow in the same policy: explicit-deny by identity-based policy \"identity 1\", statement 1 (Sid \"NoPut\")"), "{stdout}");
}

#[test]
fn policy_simulate_a_failing_case_table_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(
        &file,
        r#"[{"name":"wrong","identity":[],"request":{"principal":"arn:aws:iam::111111111111:user/a","action":"kinesis:PutRecord","resource":"*"},"expect":{"decision":"allow"}}]"#,
    )
    .unwrap();
    let out = rheo()
        .args(["policy", "simulate", "--cases"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  wrong: expected allow, got implicit-deny"),
        "{stdout}"
    );
}

#[test]
fn policy_simulate_answers_allow_or_deny_with_the_deciding_statement() {
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("writer.json");
    std::fs::write(
        &identity,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Write","Effect":"Allow","Action":"kinesis:Put*","Resource":"*"},
            {"Sid":"TlsOnly","Effect":"Deny","Action":"kinesis:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    )
    .unwrap();
    let sim = |extra: &[&str]| {
        let out = rheo()
            .args(["policy", "simulate", "--policy"])
            .arg(&identity)
            .args(["--principal", "arn:aws:iam::111111111111:user/alice"])
            .args([
                "--resource",
                "arn:aws:kinesis:us-east-1:111111111111:stream/orders",
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = sim(&[
        "--action",
        "kinesis:PutRecord",
        "--context",
        "aws:SecureTransport=true",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "allow by identity-based policy \"writer.json\", statement 0 (Sid \"Write\")\n"
    );
    let (code, out) = sim(&[
        "--action",
        "kinesis:PutRecord",
        "--context",
        "aws:SecureTransport=false",
    ]);
    assert_eq!(code, Some(3), "{out}");
    assert_eq!(
        out,
        "explicit-deny by identity-based policy \"writer.json\", statement 1 (Sid \"TlsOnly\")\n\
         User: arn:aws:iam::111111111111:user/alice is not authorized to perform: kinesis:PutRecord on resource: \
         arn:aws:kinesis:us-east-1:111111111111:stream/orders with an explicit deny in an identity-based policy\n"
    );
    let (code, out) = sim(&[
        "--action",
        "kinesis:GetRecords",
        "--context",
        "aws:SecureTransport=true",
    ]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.starts_with("implicit-deny\n")
            && out
                .contains("because no identity-based policy allows the kinesis:GetRecords action"),
        "{out}"
    );
    // Cross-account: the resource policy must name the caller's account.
    let shared = dir.path().join("shared.json");
    std::fs::write(
        &shared,
        r#"{"Statement":{"Sid":"B","Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"kinesis:PutRecord"}}"#,
    )
    .unwrap();
    let out = rheo()
        .args(["policy", "simulate", "--policy"])
        .arg(&identity)
        .arg("--resource-policy")
        .arg(&shared)
        .args([
            "--principal",
            "arn:aws:iam::222222222222:user/bob",
            "--action",
            "kinesis:PutRecord",
        ])
        .args([
            "--resource",
            "arn:aws:kinesis:us-east-1:111111111111:stream/orders",
            "--context",
            "aws:SecureTransport=true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "allow by resource-based policy \"shared.json\", statement 0 (Sid \"B\")\n"
    );
    // A policy the language refuses is an error (exit 1), not a deny.
    std::fs::write(
        &shared,
        r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*"}}"#,
    )
    .unwrap();
    let out = rheo()
        .args(["policy", "simulate", "--resource-policy"])
        .arg(&shared)
        .args([
            "--principal",
            "arn:aws:iam::222222222222:user/bob",
            "--action",
            "kinesis:PutRecord",
            "--resource",
            "*",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Missing required field Principal"));
}
