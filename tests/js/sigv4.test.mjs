// `--auth sigv4` through the unmodified JS SDK v3 client (HTTP/2 by default, signing
// `:authority`): the right key is accepted, a wrong secret and an unknown key get AWS's errors.
//
//   cd tests/js && npm ci && RHEO_BIN=/path/to/rheo npm test

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";

import { Rheo, region } from "./lib/rheo.mjs";

const MISMATCH =
  "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation " +
  "for details.";

let rheo;
let endpoint;
let dir;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rheo-js-sigv4-"));
  const creds = path.join(dir, "credentials.toml");
  writeFileSync(creds, `[[principal]]
access_key_id = "AKIDALICE"
secret_access_key = "alice-secret"
account = "111111111111"
arn = "arn:aws:iam::111111111111:user/alice"
policies = ['{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}']
`);
  rheo = await Rheo.start({ prefix: "rheo-js-sigv4-data-", args: ["--auth", "sigv4", "--credentials", creds] });
  endpoint = rheo.http;
  assert.match(rheo.readyLine, /\(auth: sigv4 \(1 key\)\)$/);
});

after(async () => {
  await rheo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const client = (accessKeyId, secretAccessKey) =>
  new KinesisClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey } });

test("the right key over the default HTTP/2 client is accepted", async () => {
  const out = await client("AKIDALICE", "alice-secret").send(new ListStreamsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.deepEqual(out.StreamNames, []);
  assert.equal(await rheo.versionSeen(out.$metadata.requestId), "HTTP/2.0", "the signed call went over HTTP/2");
});

test("a wrong secret gets InvalidSignatureException", async () => {
  await assert.rejects(client("AKIDALICE", "not-alice-secret").send(new ListStreamsCommand({})), (e) => {
    assert.equal(e.name, "InvalidSignatureException");
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.ok(e.message.startsWith(MISMATCH), e.message);
    // The JS client signs `:authority` over HTTP/2 as `host`: the expected canonical string names it.
    assert.match(e.message, /\n\nThe Canonical String for this request should have been\n'POST\n\/\n/);
    assert.match(e.message, /\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n/);
    return true;
  });
});

test("an unknown key gets UnrecognizedClientException", async () => {
  await assert.rejects(client("AKIDNOBODY", "whatever").send(new ListStreamsCommand({})), (e) => {
    assert.equal(e.name, "UnrecognizedClientException");
    assert.equal(e.message, "The security token included in the request is invalid.");
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
});
