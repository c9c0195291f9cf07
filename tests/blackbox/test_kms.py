"""The local KMS (`TrentService.*` on the Kinesis port) through boto3's KMS client: every
operation Rheo implements, AWS's error types, messages and statuses, the AWS-managed
`alias/aws/kinesis` key, Encrypt/Decrypt round trips, and keys surviving a restart."""

import os
import shutil
import signal
import stat
import subprocess
import tempfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, REPO, SECRET_KEY, _free_port, _wait_for_port

ACCOUNT = "000000000000"


def kms_client(endpoint, region=REGION, validate=True):
    """boto3's KMS client; `validate=False` sends what its own validation would refuse, so
    the server's answer is seen."""
    return boto3.session.Session().client(
        "kms",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30,
                      parameter_validation=validate),
    )


@pytest.fixture(scope="module")
def kms(endpoint):
    return kms_client(endpoint)


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    e = info.value.response
    return (
        e["Error"]["Code"],
        e["Error"].get("Message", ""),
        e["ResponseMetadata"]["HTTPStatusCode"],
    )


def key_arn(key_id, region=REGION):
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def new_key(kms, **kwargs):
    return kms.create_key(**kwargs)["KeyMetadata"]


def test_create_and_describe_key(kms):
    meta = new_key(kms, Description="for tests")
    assert meta["AWSAccountId"] == ACCOUNT
    assert meta["Arn"] == key_arn(meta["KeyId"])
    assert len(meta["KeyId"]) == 36
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["Description"] == "for tests"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert "DeletionDate" not in meta
    for ref in (meta["KeyId"], meta["Arn"]):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"] == meta


def test_describe_missing_keys_and_aliases(kms):
    missing = "11111111-2222-4333-8444-555555555555"
    assert error_of(kms.describe_key, KeyId=missing) == (
        "NotFoundException", f"Key '{key_arn(missing)}' does not exist", 400)
    assert error_of(kms.describe_key, KeyId=key_arn(missing)) == (
        "NotFoundException", f"Key '{key_arn(missing)}' does not exist", 400)
    assert error_of(kms.describe_key, KeyId="alias/no-such-alias") == (
        "NotFoundException",
        f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/no-such-alias is not found.", 400)
    assert error_of(kms.describe_key, KeyId="not-a-key") == (
        "NotFoundException", "Invalid keyId 'not-a-key'", 400)


def test_keys_are_per_region(kms, endpoint):
    meta = new_key(kms)
    other = kms_client(endpoint, region="eu-west-1")
    code, message, status = error_of(other.describe_key, KeyId=meta["KeyId"])
    assert (code, status) == ("NotFoundException", 400)
    assert message == f"Key '{key_arn(meta['KeyId'], 'eu-west-1')}' does not exist"
    assert meta["KeyId"] not in [k["KeyId"] for k in other.list_keys()["Keys"]]


def test_list_keys_pages(kms, endpoint):
    made = {new_key(kms)["KeyId"] for _ in range(3)}
    seen, marker = [], None
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        assert len(page["Keys"]) <= 2
        for k in page["Keys"]:
            assert k["KeyArn"] == key_arn(k["KeyId"])
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    assert error_of(kms_client(endpoint, validate=False).list_keys, Limit=0) == (
        "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1", 400)


def test_aliases_create_list_update_delete(kms):
    a, b = new_key(kms), new_key(kms)
    name = "alias/test-" + a["KeyId"][:8]
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == a["KeyId"]
    listed = kms.list_aliases(KeyId=a["KeyId"])["Aliases"]
    assert [(x["AliasName"], x["AliasArn"], x["TargetKeyId"]) for x in listed] == [
        (name, alias_arn, a["KeyId"])]
    assert "CreationDate" in listed[0] and "LastUpdatedDate" in listed[0]
    assert name in [x["AliasName"] for x in kms.list_aliases()["Aliases"]]
    assert error_of(kms.create_alias, AliasName=name, TargetKeyId=b["KeyId"]) == (
        "AlreadyExistsException", f"An alias with the name {alias_arn} already exists", 400)
    kms.update_alias(AliasName=name, TargetKeyId=b["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == b["KeyId"]
    kms.delete_alias(AliasName=name)
    assert error_of(kms.delete_alias, AliasName=name) == (
        "NotFoundException", f"Alias {alias_arn} is not found.", 400)
    assert error_of(kms.update_alias, AliasName=name, TargetKeyId=a["KeyId"]) == (
        "NotFoundException", f"Alias {alias_arn} is not found.", 400)


def test_alias_names_reserved_or_malformed(kms):
    meta = new_key(kms)
    code, _, status = error_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=meta["KeyId"])
    assert (code, status) == ("NotAuthorizedException", 400)
    code, message, status = error_of(kms.create_alias, AliasName="no-prefix", TargetKeyId=meta["KeyId"])
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'no-prefix' at 'aliasName'")
    missing = "11111111-2222-4333-8444-555555555555"
    assert error_of(kms.create_alias, AliasName="alias/to-nothing", TargetKeyId=missing) == (
        "NotFoundException", f"Key '{key_arn(missing)}' does not exist", 400)


def test_encrypt_decrypt_round_trip_with_and_without_context(kms):
    meta = new_key(kms)
    ctx = {"stream": "orders", "purpose": "test"}
    enc = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"attack at dawn", EncryptionContext=ctx)
    assert enc["KeyId"] == meta["Arn"]
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert b"attack at dawn" not in enc["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
    assert dec["Plaintext"] == b"attack at dawn"
    assert dec["KeyId"] == meta["Arn"]
    # KeyId is optional on Decrypt, but must name the blob's key when given.
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx,
                       KeyId=meta["Arn"])["Plaintext"] == b"attack at dawn"
    other = new_key(kms)
    code, _, status = error_of(kms.decrypt, CiphertextBlob=enc["CiphertextBlob"],
                               EncryptionContext=ctx, KeyId=other["KeyId"])
    assert (code, status) == ("IncorrectKeyException", 400)
    # The context is authenticated: a missing or different one fails.
    for bad in ({}, {"stream": "orders", "purpose": "other"}):
        code, _, status = error_of(kms.decrypt, CiphertextBlob=enc["CiphertextBlob"],
                                   EncryptionContext=bad)
        assert (code, status) == ("InvalidCiphertextException", 400)
    tampered = bytearray(enc["CiphertextBlob"])
    tampered[-1] ^= 0x01
    code, _, status = error_of(kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=ctx)
    assert (code, status) == ("InvalidCiphertextException", 400)
    code, _, status = error_of(kms.decrypt, CiphertextBlob=b"garbage")
    assert (code, status) == ("InvalidCiphertextException", 400)
    # Without a context.
    plain = kms.encrypt(KeyId=meta["Arn"], Plaintext=b"\x00\x01\xff")
    assert kms.decrypt(CiphertextBlob=plain["CiphertextBlob"])["Plaintext"] == b"\x00\x01\xff"
    # Fresh nonce each time.
    again = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"attack at dawn", EncryptionContext=ctx)
    assert again["CiphertextBlob"] != enc["CiphertextBlob"]


def test_encrypt_plaintext_bounds(kms, endpoint):
    meta = new_key(kms)
    kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x" * 4096)
    nv = kms_client(endpoint, validate=False)
    code, message, status = error_of(nv.encrypt, KeyId=meta["KeyId"], Plaintext=b"x" * 4097)
    assert (code, status) == ("ValidationException", 400)
    assert "at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096" in message


def test_generate_data_key(kms):
    meta = new_key(kms)
    dk = kms.generate_data_key(KeyId=meta["KeyId"], KeySpec="AES_256", EncryptionContext={"a": "b"})
    assert len(dk["Plaintext"]) == 32
    assert dk["KeyId"] == meta["Arn"]
    back = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert back["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=meta["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=meta["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    no_plain = kms.generate_data_key_without_plaintext(KeyId=meta["KeyId"], NumberOfBytes=32)
    assert "Plaintext" not in no_plain
    assert len(kms.decrypt(CiphertextBlob=no_plain["CiphertextBlob"])["Plaintext"]) == 32
    assert error_of(kms.generate_data_key, KeyId=meta["KeyId"]) == (
        "ValidationException", "Please specify either number of bytes or key spec.", 400)


def test_disable_and_enable_key(kms):
    meta = new_key(kms)
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    kms.disable_key(KeyId=meta["KeyId"])
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert (described["KeyState"], described["Enabled"]) == ("Disabled", False)
    disabled = ("DisabledException", f"{meta['Arn']} is disabled.", 400)
    assert error_of(kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"p") == disabled
    assert error_of(kms.decrypt, CiphertextBlob=blob) == disabled
    assert error_of(kms.generate_data_key, KeyId=meta["KeyId"], KeySpec="AES_256") == disabled
    kms.enable_key(KeyId=meta["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"


def test_schedule_and_cancel_key_deletion(kms):
    meta = new_key(kms)
    for days, bound in ((6, "greater than or equal to 7"), (31, "less than or equal to 30")):
        assert error_of(kms.schedule_key_deletion, KeyId=meta["KeyId"], PendingWindowInDays=days) == (
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {bound}", 400)
    out = kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    window = out["DeletionDate"] - kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["CreationDate"]
    assert 7 * 86400 - 60 <= window.total_seconds() <= 7 * 86400 + 60
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["DeletionDate"] == out["DeletionDate"]
    pending = ("KMSInvalidStateException", f"{meta['Arn']} is pending deletion.", 400)
    assert error_of(kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"p") == pending
    assert error_of(kms.enable_key, KeyId=meta["KeyId"]) == pending
    assert error_of(kms.schedule_key_deletion, KeyId=meta["KeyId"]) == pending
    assert kms.cancel_key_deletion(KeyId=meta["KeyId"])["KeyId"] == meta["Arn"]
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert error_of(kms.cancel_key_deletion, KeyId=meta["KeyId"]) == (
        "KMSInvalidStateException", f"{meta['Arn']} is not pending deletion.", 400)
    default = kms.schedule_key_deletion(KeyId=meta["KeyId"])
    assert default["PendingWindowInDays"] == 30


def test_aws_managed_kinesis_key_appears_on_first_use(kms):
    meta = kms.describe_key(KeyId="alias/aws/kinesis")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["KeyState"] == "Enabled"
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/aws/kinesis"]["TargetKeyId"] == meta["KeyId"]
    assert kms.describe_key(KeyId="alias/aws/kinesis")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    enc = kms.encrypt(KeyId="alias/aws/kinesis", Plaintext=b"k")
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["KeyId"] == meta["Arn"]
    code, _, status = error_of(kms.disable_key, KeyId=meta["KeyId"])
    assert (code, status) == ("NotAuthorizedException", 400)
    code, _, status = error_of(kms.delete_alias, AliasName="alias/aws/kinesis")
    assert (code, status) == ("NotAuthorizedException", 400)


def test_unimplemented_operation_is_named(kms):
    code, message, status = error_of(kms.generate_random, NumberOfBytes=8)
    assert (code, message, status) == (
        "UnknownOperationException", "Rheo does not implement GenerateRandom yet.", 400)


def test_kinesis_still_answers_on_the_same_port(endpoint, kms):
    kinesis = boto3.session.Session().client(
        "kinesis", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    assert "StreamNames" in kinesis.list_streams()
    assert "Keys" in kms.list_keys()


def _serve(binary, data_dir, port, log):
    return subprocess.Popen(
        [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.mark.skipif(os.environ.get("RHEO_BLACKBOX_STORAGE", "disk") != "disk"
                    or bool(os.environ.get("RHEO_ENDPOINT")),
                    reason="restarts its own server on a data directory")
def test_keys_survive_a_restart_and_the_master_key_is_private():
    binary = os.environ.get("RHEO_BIN", os.path.join(REPO, "target", "debug", "rheo"))
    data_dir = tempfile.mkdtemp(prefix="rheo-kms-data-")
    log = tempfile.NamedTemporaryFile(prefix="rheo-kms-", suffix=".log", delete=False)
    try:
        port = _free_port()
        proc = _serve(binary, data_dir, port, log)
        try:
            assert _wait_for_port("127.0.0.1", port, proc, 20)
            kms = kms_client(f"http://127.0.0.1:{port}")
            meta = new_key(kms, Description="durable")
            kms.create_alias(AliasName="alias/durable", TargetKeyId=meta["KeyId"])
            managed = kms.describe_key(KeyId="alias/aws/kinesis")["KeyMetadata"]
            blob = kms.encrypt(KeyId="alias/durable", Plaintext=b"kept",
                               EncryptionContext={"k": "v"})["CiphertextBlob"]
            kms.disable_key(KeyId=meta["KeyId"])
        finally:
            _stop(proc)
        master = os.path.join(data_dir, "kms", "master.key")
        assert stat.S_IMODE(os.stat(master).st_mode) == 0o600
        with open(log.name, "rb") as f:
            with open(master, "rb") as m:
                assert m.read().strip() not in f.read()
        port = _free_port()
        proc = _serve(binary, data_dir, port, log)
        try:
            assert _wait_for_port("127.0.0.1", port, proc, 20)
            kms = kms_client(f"http://127.0.0.1:{port}")
            after = kms.describe_key(KeyId="alias/durable")["KeyMetadata"]
            assert after["KeyId"] == meta["KeyId"]
            assert after["KeyState"] == "Disabled"
            assert after["Description"] == "durable"
            assert kms.describe_key(KeyId="alias/aws/kinesis")["KeyMetadata"]["KeyId"] == managed["KeyId"]
            kms.enable_key(KeyId=meta["KeyId"])
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"kept"
        finally:
            _stop(proc)
        # Another master key cannot open the keys: the server refuses to start.
        other = os.path.join(data_dir, "other.key")
        with open(other, "w") as f:
            f.write("ab" * 32)
        out = subprocess.run(
            [binary, "serve", "--host", "127.0.0.1", "--port", str(_free_port()),
             "--data-dir", data_dir, "--kms-master-key", other],
            capture_output=True, timeout=30)
        assert out.returncode != 0
        assert b"does not open the stored key" in out.stderr
    finally:
        log.close()
        os.unlink(log.name)
        shutil.rmtree(data_dir, ignore_errors=True)
