"""TLS on the real binary: `--tls on|only`, the generated CA that `rheo cert` prints, the AWS CLI
with `--ca-bundle` and boto3 with `verify=` over https, untrusted clients and plain HTTP on the
TLS port refused without harm, and an operator's own certificate files.

Each test starts its own server (TLS settings are per server) and reads the endpoints from the
ready line on stdout: `rheo ready on https://A and http://B`, or `https://A` alone with `only`.
"""

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import ACCESS_KEY, REGION, REPO, SECRET_KEY, _free_port
from khelpers import unique_name

BINARY = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
TIMINGS = [
    "--create-stream-ms", "100", "--delete-stream-ms", "100", "--update-stream-ms", "100",
    "--throughput-limits", "off",
]


@contextlib.contextmanager
def tls_server(*flags, data_dir=None):
    """Runs `rheo serve` with `flags` (on `data_dir`, else in memory) and yields (https endpoint,
    http endpoint or None, stdout lines up to the ready line, path of the server's log)."""
    if not os.path.exists(BINARY):
        pytest.fail(f"Rheo binary not found at {BINARY}: build it or set RHEO_BIN")
    storage = ["--data-dir", data_dir] if data_dir else ["--in-memory"]
    log = tempfile.NamedTemporaryFile(prefix="rheo-tls-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [BINARY, "serve", "--host", "127.0.0.1", *storage, *TIMINGS, *flags],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
        env={**os.environ, "RHEO_LOG": "info,rheo_http=debug"},
    )
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("rheo ready"):
                break
        ready = lines[-1] if lines else ""
        if not ready.startswith("rheo ready"):
            proc.kill()
            with open(log.name) as f:
                pytest.fail(f"rheo did not get ready: {lines}\n{f.read()[-4000:]}")
        https = re.search(r"(https://\S+)", ready)
        http = re.search(r"(http://\S+)", ready)
        assert https, ready
        yield https.group(1), (http.group(1) if http else None), lines, log.name
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


def port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def localhost(endpoint):
    """The endpoint by name, as clients use it (the certificate names localhost)."""
    return f"https://localhost:{port_of(endpoint)}"


def client(endpoint, verify):
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        verify=verify,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def round_trip(kinesis, payload=b"over tls"):
    """Creates a stream, puts `payload`, reads it back and deletes the stream."""
    name = unique_name("tls")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    put = kinesis.put_record(StreamName=name, Data=payload, PartitionKey="pk")
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["Data"] for r in records] == [payload]
    assert records[0]["SequenceNumber"] == put["SequenceNumber"]
    kinesis.delete_stream(StreamName=name)


def rheo_cert(data_dir):
    p = subprocess.run([BINARY, "cert", "--data-dir", data_dir], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_generated_ca_printed_by_rheo_cert_is_trusted_by_the_aws_cli(tmp_path):
    exe = shutil.which("aws")
    if exe is None:
        pytest.fail("the AWS CLI (`aws`) is not installed: pip install -r requirements-test.txt")
    data = tmp_path / "data"
    with tls_server("--tls", "on", "--tls-port", "0", "--port", "0", data_dir=str(data)) as (
        https, http, lines, _log
    ):
        assert http is not None, lines
        # `rheo cert > ca.pem`, as the README says.
        ca = tmp_path / "ca.pem"
        ca.write_text(rheo_cert(str(data)))
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert ca.read_text() == (data / "tls" / "ca.pem").read_text()
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(home / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"), AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )

        def aws(*args, ca_bundle=str(ca)):
            cmd = [exe, "kinesis", *args, "--endpoint-url", localhost(https), "--region", REGION,
                   "--output", "json"]
            if ca_bundle:
                cmd += ["--ca-bundle", ca_bundle]
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                return p.returncode, p.stderr
            return 0, json.loads(p.stdout) if p.stdout.strip() else None

        name = unique_name("tlscli")
        rc, out = aws("create-stream", "--stream-name", name, "--shard-count", "1")
        assert rc == 0, out
        rc, out = aws("wait", "stream-exists", "--stream-name", name)
        assert rc == 0, out
        rc, out = aws("put-record", "--stream-name", name, "--partition-key", "pk",
                      "--data", "hello-tls")
        assert rc == 0, out
        seq = out["SequenceNumber"]
        rc, out = aws("get-shard-iterator", "--stream-name", name, "--shard-id",
                      out["ShardId"], "--shard-iterator-type", "TRIM_HORIZON")
        assert rc == 0, out
        rc, out = aws("get-records", "--shard-iterator", out["ShardIterator"])
        assert rc == 0, out
        assert [base64.b64decode(r["Data"]) for r in out["Records"]] == [b"hello-tls"]
        assert out["Records"][0]["SequenceNumber"] == seq
        # Without the CA bundle the CLI does not trust the server.
        rc, out = aws("list-streams", ca_bundle=None)
        assert rc != 0 and "SSL" in out.upper(), out


def test_boto3_with_verify_and_the_same_data_on_both_ports(tmp_path):
    data = tmp_path / "data"
    with tls_server("--tls", "on", "--tls-port", "0", "--port", "0", data_dir=str(data)) as (
        https, http, _lines, log
    ):
        ca = str(data / "tls" / "ca.pem")
        secure = client(localhost(https), verify=ca)
        round_trip(secure)
        # The IP address is in the certificate too.
        round_trip(client(https, verify=ca), b"by address")
        # One server behind both ports: a stream made over TLS is seen over plain HTTP.
        name = unique_name("both")
        secure.create_stream(StreamName=name, ShardCount=1)
        plain = client(http, verify=False)
        assert name in plain.list_streams()["StreamNames"]
        # botocore speaks HTTP/1.1; the server's request log names the version it saw.
        with open(log) as f:
            assert "http=HTTP/1.1" in f.read()


def test_untrusted_clients_and_plain_http_are_refused_and_the_server_keeps_serving(tmp_path):
    data = tmp_path / "data"
    with tls_server("--tls", "on", "--tls-port", "0", "--port", "0", data_dir=str(data)) as (
        https, _http, _lines, log
    ):
        ca = str(data / "tls" / "ca.pem")
        # The system's CAs do not know this server.
        with pytest.raises(botocore.exceptions.SSLError):
            client(localhost(https), verify=True).list_streams()
        # A CA of another server does not either.
        other = tmp_path / "other"
        with tls_server("--tls", "only", "--tls-port", "0", data_dir=str(other)):
            pass
        with pytest.raises(botocore.exceptions.SSLError):
            client(localhost(https), verify=str(other / "tls" / "ca.pem")).list_streams()
        # A name the certificate does not carry.
        context = ssl.create_default_context(cafile=ca)
        with socket.create_connection(("127.0.0.1", port_of(https)), timeout=5) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname="not-this-server.example")
        # Plain HTTP, garbage and a silent connection on the TLS port: each just ends.
        for junk in [
            b"POST / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\n\r\n{}",
            os.urandom(512),
        ]:
            with socket.create_connection(("127.0.0.1", port_of(https)), timeout=5) as raw:
                raw.sendall(junk)
                answer = b""
                try:
                    while chunk := raw.recv(4096):
                        answer += chunk
                except ConnectionResetError:
                    pass
                assert not answer.startswith(b"HTTP/"), answer
        silent = socket.create_connection(("127.0.0.1", port_of(https)), timeout=5)
        try:
            # Still serving, beside the silent connection.
            round_trip(client(localhost(https), verify=ca))
        finally:
            silent.close()
        with open(log) as f:
            text = f.read()
        assert "TLS handshake failed" in text, text[-3000:]
        assert "panicked" not in text


def test_tls_only_has_no_plain_port_and_reuses_its_ca_across_restarts(tmp_path):
    data = tmp_path / "data"
    plain_port = _free_port()
    with tls_server("--tls", "only", "--tls-port", "0", "--port", str(plain_port),
                    data_dir=str(data)) as (https, http, lines, _log):
        assert http is None, lines
        assert "http://" not in lines[-1], lines
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", plain_port), timeout=2).close()
        ca = (data / "tls" / "ca.pem").read_text()
        cert = (data / "tls" / "server.pem").read_text()
        round_trip(client(localhost(https), verify=str(data / "tls" / "ca.pem")))
        assert f"rheo TLS CA in {data / 'tls' / 'ca.pem'}" in lines
    for key in ("ca-key.pem", "server-key.pem"):
        assert os.stat(data / "tls" / key).st_mode & 0o777 == 0o600, key
    # A restart serves the same CA and certificate: clients keep trusting it.
    with tls_server("--tls", "only", "--tls-port", "0", data_dir=str(data)) as (https, *_):
        assert (data / "tls" / "ca.pem").read_text() == ca
        assert (data / "tls" / "server.pem").read_text() == cert
        served = ssl.get_server_certificate(("127.0.0.1", port_of(https)))
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert)
        round_trip(client(localhost(https), verify=str(data / "tls" / "ca.pem")))
    # Another name re-issues the certificate under the same CA.
    with tls_server("--tls", "only", "--tls-port", "0", "--tls-san", "kinesis.test",
                    data_dir=str(data)) as (https, *_):
        assert (data / "tls" / "ca.pem").read_text() == ca
        assert (data / "tls" / "server.pem").read_text() != cert
        context = ssl.create_default_context(cafile=str(data / "tls" / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port_of(https)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="kinesis.test") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_in_memory_generates_into_a_printed_directory(tmp_path):
    with tls_server("--tls", "on", "--tls-port", "0", "--port", "0") as (https, http, lines, _):
        printed = [line for line in lines if line.startswith("rheo TLS CA in ")]
        assert printed, lines
        ca = printed[0][len("rheo TLS CA in "):]
        assert os.path.exists(ca)
        round_trip(client(localhost(https), verify=ca))
    tls_dir = tmp_path / "certs"
    with tls_server("--tls", "on", "--tls-port", "0", "--port", "0", "--tls-dir",
                    str(tls_dir)) as (https, _http, lines, _):
        assert f"rheo TLS CA in {tls_dir / 'ca.pem'}" in lines
        round_trip(client(localhost(https), verify=str(tls_dir / "ca.pem")))


def test_given_certificate_and_key_files_are_served(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test's own certificate")
    cert, key = tmp_path / "mine.pem", tmp_path / "mine-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    data = tmp_path / "data"
    with tls_server("--tls", "only", "--tls-port", "0", "--tls-cert", str(cert), "--tls-key",
                    str(key), data_dir=str(data)) as (https, _http, lines, _):
        served = ssl.get_server_certificate(("127.0.0.1", port_of(https)))
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert.read_text())
        round_trip(client(localhost(https), verify=str(cert)))
        assert not (data / "tls").exists(), "nothing generated with given files"
        assert not any(line.startswith("rheo TLS CA in") for line in lines)
    # A key that is not a key: refused at start, with the file named.
    bad = tmp_path / "bad-key.pem"
    bad.write_text("not a key\n")
    p = subprocess.run(
        [BINARY, "serve", "--in-memory", "--port", "0", "--tls", "on", "--tls-port", "0",
         "--tls-cert", str(cert), "--tls-key", str(bad)],
        capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0
    assert str(bad) in p.stderr, p.stderr


def test_rheo_cert_without_a_generated_ca_says_how_to_make_one(tmp_path):
    p = subprocess.run([BINARY, "cert", "--data-dir", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert "rheo serve --tls on" in p.stderr, p.stderr
