"""Shared fixtures for the black-box Kinesis suite.

The suite talks to a server only over HTTP, exactly as AWS clients do.  When
``RHEO_ENDPOINT`` is set it uses that endpoint (e.g. a kinesalite started by
hand, to check the expectations against a reference); otherwise it starts the
Rheo binary (``RHEO_BIN``, default ``<repo>/target/debug/rheo``) on a free port
for the whole session and kills it at the end.

    pip install -r requirements-test.txt
    pytest tests/blackbox                                   # against target/debug/rheo, disk engine
    RHEO_BLACKBOX_STORAGE=memory pytest tests/blackbox      # the same with --in-memory
    RHEO_ENDPOINT=http://127.0.0.1:4568 pytest tests/blackbox -m "not modern"   # against kinesalite

Tests marked `modern` use API features or limits newer than kinesalite implements.
"""

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "test"
SECRET_KEY = "test"
TARGET_PREFIX = "Kinesis_20131202"
AMZ_JSON = "application/x-amz-json-1.1"

sys.path.insert(0, os.path.dirname(__file__))

from khelpers import unique_name, wait_gone, wait_status  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "modern: needs an API feature newer than kinesalite implements; "
        'run -m "not modern" against kinesalite',
    )


# --------------------------------------------------------------------------- server


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(host, port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@contextlib.contextmanager
def rheo_server(**flags):
    """Runs a fresh Rheo server (on the storage RHEO_BLACKBOX_STORAGE names) with the suite's
    short timings, overridden or extended by `flags` (`subscription_ms="30000"` is
    `--subscription-ms 30000`; True is a switch), yields its endpoint, and stops it. For tests that need settings
    the session's server does not have. A flag set to None is left out.

    AWS's throughput limits are off here, as on the session's server: its tests poll
    DescribeStream in tight loops, put megabytes at once and read back at once, far past AWS's
    rates. `throughput_limits=None` starts a server at the default (limits on)."""
    settings = {
        "create_stream_ms": "100", "delete_stream_ms": "100", "update_stream_ms": "100",
        "consumer_status_ms": "100", "subscription_ms": "3000", "throughput_limits": "off",
        **flags,
    }
    # A flag set to True is a switch (`audit_data_events=True` is `--audit-data-events`).
    setting_args = [a for k, v in settings.items() if v is not None
                    for a in (("--" + k.replace("_", "-"),) if v is True
                              else ("--" + k.replace("_", "-"), str(v)))]
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    if not os.path.exists(binary):
        pytest.fail(f"Rheo binary not found at {binary}: build it or set RHEO_BIN / RHEO_ENDPOINT")
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="rheo-blackbox-", suffix=".log", delete=False)
    # The disk engine by default, with the default fsync policy: defects hide there that an
    # in-memory run never meets (a catalog file name too long for the file system, say).
    storage = os.environ.get("RHEO_BLACKBOX_STORAGE", "disk")
    if storage not in ("disk", "memory"):
        pytest.fail(f"RHEO_BLACKBOX_STORAGE must be disk or memory, not {storage!r}")
    data_dir = tempfile.mkdtemp(prefix="rheo-blackbox-data-") if storage == "disk" else None
    storage_args = ["--data-dir", data_dir] if data_dir else ["--in-memory"]
    proc = subprocess.Popen(
        [
            binary, "serve", "--host", "127.0.0.1", "--port", str(port), *storage_args,
            *setting_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if not _wait_for_port("127.0.0.1", port, proc, 20):
            log.flush()
            with open(log.name, "rb") as f:
                out = f.read().decode("utf-8", "replace")[-4000:]
            state = "exited with code %s" % proc.returncode if proc.poll() is not None else "kept running"
            pytest.fail(f"rheo did not accept connections on port {port} within 20 s ({state}); output:\n{out}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def endpoint():
    ext = os.environ.get("RHEO_ENDPOINT")
    if ext:
        yield ext.rstrip("/")
        return
    with rheo_server() as url:
        yield url


@pytest.fixture(scope="session")
def limits_endpoint():
    """A server started with no --throughput-limits flag at all, so that the tests of the
    limits prove they are on by default (skipped against an external endpoint)."""
    if os.environ.get("RHEO_ENDPOINT"):
        pytest.skip("needs its own server binary")
    with rheo_server(throughput_limits=None) as url:
        yield url


def make_client(endpoint, validate=True, retries=None):
    """A boto3 Kinesis client for `endpoint`; by default one attempt per call, so a test sees
    each answer as the server gave it. `retries` is botocore's retry config (mode, attempts)."""
    return boto3.session.Session().client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            retries=retries or {"max_attempts": 1},
            parameter_validation=validate,
            connect_timeout=5,
            read_timeout=30,
        ),
    )


@pytest.fixture(scope="session")
def kinesis(endpoint):
    """boto3 client with client-side validation on (the usual SDK behaviour)."""
    return make_client(endpoint)


@pytest.fixture(scope="session")
def kinesis_limited(limits_endpoint):
    """boto3 client of the server at the default settings, AWS's limits on."""
    return make_client(limits_endpoint)


@pytest.fixture(scope="session")
def kinesis_nv(endpoint):
    """boto3 client with botocore's parameter validation off, so that invalid values
    reach the server and its own validation is what gets tested."""
    return make_client(endpoint, validate=False)


# --------------------------------------------------------------------------- stream factory


def _stream_factory(kinesis):
    """stream(shard_count=1, **create_kwargs) -> name on `kinesis`'s server; created, waited
    ACTIVE, and deleted (and waited gone) at teardown so tests stay independent."""
    created = []

    def make(shard_count=1, name=None, wait=True, **kwargs):
        name = name or unique_name()
        params = {"StreamName": name, **kwargs}
        if shard_count is not None:
            params["ShardCount"] = shard_count
        kinesis.create_stream(**params)
        created.append(name)
        if wait:
            wait_status(kinesis, name, "ACTIVE")
        return name

    yield make
    for name in created:
        try:
            # A stream mid-UPDATING refuses deletion on some servers: let it settle first.
            wait_status(kinesis, name, "ACTIVE", timeout=5)
        except (AssertionError, ClientError):
            pass
        try:
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        except ClientError:
            continue
        try:
            wait_gone(kinesis, name)
        except (AssertionError, ClientError):
            pass


@pytest.fixture
def stream(kinesis):
    """Factory: stream(shard_count=1, **create_kwargs) -> name (see _stream_factory)."""
    yield from _stream_factory(kinesis)


@pytest.fixture
def limited_stream(kinesis_limited):
    """The stream factory on the server at the default settings (limits on)."""
    yield from _stream_factory(kinesis_limited)


# --------------------------------------------------------------------------- AWS CLI


@pytest.fixture(scope="session")
def aws_cli(endpoint, tmp_path_factory):
    exe = shutil.which("aws")
    if exe is None:
        pytest.fail("the AWS CLI (`aws`) is not installed: pip install -r requirements-test.txt")
    home = tmp_path_factory.mktemp("awscli-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )

    def run(*args):
        cmd = [exe, "kinesis", *args, "--endpoint-url", endpoint, "--region", REGION, "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            return p.returncode, p.stderr
        out = p.stdout.strip()
        return 0, (json.loads(out) if out else None)

    return run


# --------------------------------------------------------------------------- raw HTTP


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_type(self):
        t = (self.json or {}).get("__type", "")
        return t.split("#")[-1]

    @property
    def message(self):
        j = self.json or {}
        return j.get("message", j.get("Message"))


@pytest.fixture(scope="session")
def raw_post(endpoint):
    """raw_post(target, body_bytes, headers=None, sign=True) -> RawResponse.

    `target` is the operation name ("ListStreams") or a full X-Amz-Target value
    (anything containing a '.'), or None for no X-Amz-Target header.  Headers
    given explicitly override the defaults; a header set to None is removed."""
    url = urllib.parse.urlsplit(endpoint)

    def post(target, body=b"{}", headers=None, sign=True, path="/"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        hdrs = {"Content-Type": AMZ_JSON}
        if target is not None:
            hdrs["X-Amz-Target"] = target if "." in target else f"{TARGET_PREFIX}.{target}"
        for k, v in (headers or {}).items():
            for existing in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        if sign:
            req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=hdrs)
            SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kinesis", REGION).add_auth(req)
            hdrs = dict(req.headers.items())
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    return post


@pytest.fixture(scope="session")
def call(raw_post):
    """call(operation, payload_dict) -> parsed JSON of a successful signed request.
    Used where botocore would alter the request (e.g. it truncates timestamps to
    whole seconds; Java SDKs send milliseconds)."""

    def do(op, payload):
        r = raw_post(op, json.dumps(payload).encode())
        assert r.status == 200, f"{op} failed: {r.status} {r.body[:500]!r}"
        return r.json

    return do


# --------------------------------------------------------------------------- fault injection


def faults_admin(endpoint, method, body=None):
    """One request to the fault-injection admin endpoint: (status, parsed JSON answer)."""
    u = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/_rheo/faults", body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


@pytest.fixture
def faults(endpoint):
    """faults(operation=..., **rule) adds a rule (snake_case keys become the kebab-case ones)
    on the session's server; every rule is cleared at teardown so other tests never meet one."""

    def add(**rule):
        rule = {k.replace("_", "-"): v for k, v in rule.items()}
        status, answer = faults_admin(endpoint, "POST", rule)
        assert status == 200, answer
        return answer

    yield add
    status, _ = faults_admin(endpoint, "DELETE")
    assert status == 200
