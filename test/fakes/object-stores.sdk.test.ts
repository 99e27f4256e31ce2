// The fake object stores (test/fakes/object-stores.ts) checked against what real clients send and
// expect: AWS's official @aws-sdk/client-s3 writes (a buffer, with its default CRC32 checksum
// header; a stream, as an aws-chunked body with a checksum trailer), reads back, lists, and sees
// SignatureDoesNotMatch / InvalidAccessKeyId / NoSuchBucket / SlowDown as its own errors; Azure's
// official @azure/storage-blob uploads with a SAS URL, downloads and lists (a bearer token from the
// fake's Entra endpoint is sent with fetch: the SDK sends bearer tokens over https only); GCS's JSON API is driven with plain fetch, as its docs describe it.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { BlockBlobClient, ContainerClient, RestError } from "@azure/storage-blob";
import { FAKE_S3_CREDS, startFakeAzureBlob, startFakeGcs, startFakeS3, type FakeAzureBlob, type FakeObjectStore } from "./object-stores.ts";

const ndjson = gzipSync(Buffer.from('{"ts":1,"model":"gpt-x","tokens":12}\n{"ts":2,"model":"gpt-y","tokens":7}\n'));

describe("fake S3 against the official SDK", () => {
  let s3: FakeObjectStore & { region: string };
  before(async () => {
    s3 = await startFakeS3();
    s3.createBucket("usage");
  });
  after(() => s3.close());
  // The SDK's defaults are kept (requestChecksumCalculation / responseChecksumValidation
  // "WHEN_SUPPORTED"): PutObject sends x-amz-checksum-crc32 (a header for a buffer, an aws-chunked
  // trailer for a stream) and GetObject asks for the checksum back (x-amz-checksum-mode: ENABLED),
  // which the fake stores, verifies and returns.
  const client = (creds = FAKE_S3_CREDS, maxAttempts = 1) => new S3Client({ endpoint: s3.url, region: s3.region, credentials: creds, forcePathStyle: true, maxAttempts });

  test("PutObject then GetObject / HeadObject: the same bytes, content-type, content-encoding, metadata", async () => {
    const key = "signalbox/2025/01/02/usage-0001.ndjson.gz";
    const put = await client().send(new PutObjectCommand({ Bucket: "usage", Key: key, Body: ndjson, ContentType: "application/x-ndjson", ContentEncoding: "gzip", Metadata: { records: "2", gateway: "sb-1" } }));
    assert.match(put.ETag!, /^"[0-9a-f]{32}"$/);
    const sent = s3.requests.at(-1)!;
    assert.equal(sent.method, "PUT");
    assert.match(sent.path, /^\/usage\/signalbox\/2025\/01\/02\/usage-0001\.ndjson\.gz\?/);
    assert.match(String(sent.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAFAKEOBJSTORE0002\/\d{8}\/us-east-1\/s3\/aws4_request/);
    assert.ok(sent.headers["x-amz-checksum-crc32"], "the SDK's default flexible checksum");

    const got = await client().send(new GetObjectCommand({ Bucket: "usage", Key: key }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), ndjson);
    assert.equal(got.ContentType, "application/x-ndjson");
    assert.equal(got.ContentEncoding, "gzip");
    assert.deepEqual(got.Metadata, { records: "2", gateway: "sb-1" });
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentLength, ndjson.length);

    const head = await client().send(new HeadObjectCommand({ Bucket: "usage", Key: key }));
    assert.equal(head.ContentLength, ndjson.length);
    assert.deepEqual(head.Metadata, { records: "2", gateway: "sb-1" });

    const [stored] = s3.objects("usage");
    assert.deepEqual(stored, { bucket: "usage", key, body: ndjson, contentType: "application/x-ndjson", contentEncoding: "gzip", metadata: { records: "2", gateway: "sb-1" } });
  });

  test("a stream body goes as aws-chunked with a checksum trailer; the object is the decoded bytes", async () => {
    const key = "signalbox/stream/usage.ndjson.gz";
    await client().send(new PutObjectCommand({ Bucket: "usage", Key: key, Body: Readable.from([ndjson.subarray(0, 10), ndjson.subarray(10)]), ContentLength: ndjson.length, ContentType: "application/x-ndjson", ContentEncoding: "gzip" }));
    const sent = s3.requests.at(-1)!;
    assert.equal(sent.headers["x-amz-content-sha256"], "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    assert.equal(sent.headers["content-encoding"], "gzip,aws-chunked");
    const stored = s3.objects("usage").find((o) => o.key === key)!;
    assert.deepEqual(stored.body, ndjson);
    assert.equal(stored.contentEncoding, "gzip");
  });

  test("ListObjectsV2 with a prefix, and pages", async () => {
    for (const n of ["a", "b", "c"]) await client().send(new PutObjectCommand({ Bucket: "usage", Key: `list/2025/${n}.gz`, Body: ndjson }));
    const r = await client().send(new ListObjectsV2Command({ Bucket: "usage", Prefix: "list/" }));
    assert.deepEqual(r.Contents?.map((c) => c.Key), ["list/2025/a.gz", "list/2025/b.gz", "list/2025/c.gz"]);
    assert.equal(r.KeyCount, 3);
    assert.equal(r.IsTruncated, false);
    assert.equal(r.Contents![0].Size, ndjson.length);
    assert.ok(r.Contents![0].LastModified instanceof Date);
    assert.match(r.Contents![0].ETag!, /^"[0-9a-f]{32}"$/);
    const p1 = await client().send(new ListObjectsV2Command({ Bucket: "usage", Prefix: "list/", MaxKeys: 2 }));
    assert.deepEqual([p1.KeyCount, p1.IsTruncated], [2, true]);
    const p2 = await client().send(new ListObjectsV2Command({ Bucket: "usage", Prefix: "list/", MaxKeys: 2, ContinuationToken: p1.NextContinuationToken }));
    assert.deepEqual(p2.Contents?.map((c) => c.Key), ["list/2025/c.gz"]);
    const none = await client().send(new ListObjectsV2Command({ Bucket: "usage", Prefix: "nothing/" }));
    assert.deepEqual([none.KeyCount, none.Contents], [0, undefined]);
  });

  test("errors as the SDK knows them: wrong secret, unknown key, missing bucket and key", async () => {
    const isS3 = (name: string, status: number) => (e: unknown) => e instanceof S3ServiceException && e.name === name && e.$metadata.httpStatusCode === status;
    const put = (c: S3Client, Bucket = "usage") => c.send(new PutObjectCommand({ Bucket, Key: "x.gz", Body: ndjson }));
    await assert.rejects(put(client({ ...FAKE_S3_CREDS, secretAccessKey: "wrong" })), isS3("SignatureDoesNotMatch", 403));
    await assert.rejects(put(client({ ...FAKE_S3_CREDS, accessKeyId: "AKIAOTHER" })), isS3("InvalidAccessKeyId", 403));
    await assert.rejects(put(client(), "no-such-bucket"), isS3("NoSuchBucket", 404));
    await assert.rejects(client().send(new GetObjectCommand({ Bucket: "usage", Key: "missing" })), isS3("NoSuchKey", 404));
    await assert.rejects(client().send(new HeadObjectCommand({ Bucket: "usage", Key: "missing" })), isS3("NotFound", 404));
    assert.equal(s3.objects("usage").some((o) => o.key === "x.gz"), false);
  });

  test("failNext: SlowDown (503) stores nothing; the SDK's own retry then succeeds", async () => {
    s3.failNext(1);
    await assert.rejects(client().send(new PutObjectCommand({ Bucket: "usage", Key: "f.gz", Body: ndjson })), (e: unknown) => (e as Error).name === "SlowDown");
    assert.equal(s3.objects("usage").some((o) => o.key === "f.gz"), false);
    s3.failNext(1, 500);
    const r = await client(FAKE_S3_CREDS, 3).send(new PutObjectCommand({ Bucket: "usage", Key: "f.gz", Body: ndjson }));
    assert.equal(r.$metadata.attempts, 2);
    assert.equal(s3.objects("usage").some((o) => o.key === "f.gz"), true);
  });

  test("the payload hash must be the body's", async () => {
    // A request signed over one body and sent with another: the fake refuses it before the signature.
    const { SignatureV4 } = await import("@smithy/signature-v4");
    const { Hash } = await import("@smithy/hash-node");
    const signer = new SignatureV4({ service: "s3", region: "us-east-1", credentials: FAKE_S3_CREDS, sha256: Hash.bind(null, "sha256"), uriEscapePath: false, applyChecksum: true });
    const host = new URL(s3.url).host;
    const signed = await signer.sign({ method: "PUT", protocol: "http:", hostname: "127.0.0.1", path: "/usage/h.gz", query: {}, headers: { host }, body: "one" });
    const r = await fetch(`${s3.url}/usage/h.gz`, { method: "PUT", headers: signed.headers, body: "two" });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /<Code>XAmzContentSHA256Mismatch<\/Code>/);
    const ok = await fetch(`${s3.url}/usage/h.gz`, { method: "PUT", headers: signed.headers, body: "one" });
    assert.equal(ok.status, 200);
  });
});

describe("fake Azure Blob Storage against the official SDK", () => {
  const sasToken = "sv=2022-11-02&ss=b&srt=co&sp=rwlc&se=2099-01-01T00:00:00Z&spr=https,http&sig=ZmFrZS1zaWduYXR1cmU%3D";
  let az: FakeAzureBlob;
  before(async () => {
    az = await startFakeAzureBlob({ account: "sbusage", tenantId: "tenant-1", clientId: "app-1", clientSecret: "not-a-real-secret", federatedToken: "federated-jwt", sasToken });
    az.createBucket("archives");
  });
  after(() => az.close());
  // Against an IP host the SDK reads the first path segment as the account name (Azurite's style), so
  // its containerName / blobName properties are off by one segment; the requests go to the URLs given.
  const opts = { retryOptions: { maxTries: 1 } };

  test("BlockBlobClient.upload with a SAS URL, download, listBlobsFlat", async () => {
    const blob = new BlockBlobClient(`${az.url}/archives/2025/01/usage-1.ndjson.gz?${sasToken}`, undefined, opts);
    const up = await blob.upload(ndjson, ndjson.length, { blobHTTPHeaders: { blobContentType: "application/x-ndjson", blobContentEncoding: "gzip" }, metadata: { records: "2" } });
    assert.ok(up.etag);
    assert.ok(up.contentMD5);
    const sent = az.requests.at(-1)!;
    assert.equal(sent.headers["x-ms-blob-type"], "BlockBlob");
    assert.ok(sent.headers["x-ms-version"]);
    const down = await blob.downloadToBuffer();
    assert.deepEqual(down, ndjson);
    const props = await blob.getProperties();
    assert.deepEqual([props.contentType, props.contentEncoding, props.metadata], ["application/x-ndjson", "gzip", { records: "2" }]);
    const container = new ContainerClient(`${az.url}/archives?${sasToken}`, undefined, opts);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: "2025/", includeMetadata: true })) {
      names.push(b.name);
      assert.equal(b.properties.contentLength, ndjson.length);
      assert.deepEqual(b.metadata, { records: "2" });
    }
    assert.deepEqual(names, ["2025/01/usage-1.ndjson.gz"]);
    assert.deepEqual(az.objects("archives"), [{ bucket: "archives", key: "2025/01/usage-1.ndjson.gz", body: ndjson, contentType: "application/x-ndjson", contentEncoding: "gzip", metadata: { records: "2" } }]);
  });

  test("a bearer token from the fake's Entra endpoint (client secret, then federated assertion)", async () => {
    const forms: Record<string, string>[] = [{ client_secret: "not-a-real-secret" }, { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: "federated-jwt" }];
    for (const form of forms) {
      const r = await fetch(`${az.authorityUrl}/tenant-1/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app-1", scope: "https://storage.azure.com/.default", ...form }) });
      assert.equal(r.status, 200);
      const { access_token } = (await r.json()) as { access_token: string };
      // The SDK refuses bearer tokens over plain http ("Bearer token authentication is not permitted
      // for non-TLS protected (non-https) URLs"), so the bearer path is driven as its wire format, with fetch.
      const headers = { authorization: `Bearer ${access_token}`, "x-ms-version": "2025-11-05" };
      const put = await fetch(`${az.url}/archives/bearer.gz`, { method: "PUT", headers: { ...headers, "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "application/x-ndjson", "x-ms-blob-content-encoding": "gzip", "x-ms-meta-records": "2" }, body: ndjson });
      assert.equal(put.status, 201);
      assert.match(put.headers.get("etag")!, /^"0x[0-9A-F]+"$/);
      assert.ok(put.headers.get("x-ms-request-id"));
      assert.equal(put.headers.get("x-ms-version"), "2025-11-05");
      assert.equal(put.headers.get("content-md5"), createHash("md5").update(ndjson).digest("base64"));
      const stored = az.objects("archives").find((o) => o.key === "bearer.gz")!;
      assert.deepEqual([stored.body, stored.contentType, stored.contentEncoding, stored.metadata], [ndjson, "application/x-ndjson", "gzip", { records: "2" }]);
      // Read back through the SDK with the SAS (see above for why not with the token).
      assert.deepEqual(await new BlockBlobClient(`${az.url}/archives/bearer.gz?${sasToken}`, undefined, opts).downloadToBuffer(), ndjson);
    }
    const other = await fetch(`${az.url}/archives/bearer.gz`, { method: "PUT", headers: { authorization: "Bearer not-issued", "x-ms-version": "2025-11-05", "x-ms-blob-type": "BlockBlob" }, body: ndjson });
    assert.equal(other.status, 403);
    assert.match(await other.text(), /<Code>AuthenticationFailed<\/Code>/);
    const refused = await fetch(`${az.authorityUrl}/tenant-1/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app-1", scope: "https://storage.azure.com/.default", client_secret: "wrong" }) });
    assert.equal(refused.status, 401);
  });

  test("refusals: a wrong SAS, no auth, no blob type, a missing container; failNext", async () => {
    const isRest = (code: string, status: number) => (e: unknown) => e instanceof RestError && e.statusCode === status && (e.details as { errorCode?: string } | undefined)?.errorCode === code;
    const wrongSas = sasToken.replace(/sig=[^&]+/, "sig=d3Jvbmc%3D");
    await assert.rejects(new BlockBlobClient(`${az.url}/archives/w.gz?${wrongSas}`, undefined, opts).upload(ndjson, ndjson.length), isRest("AuthenticationFailed", 403));
    await assert.rejects(new BlockBlobClient(`${az.url}/archives/w.gz`, undefined, opts).upload(ndjson, ndjson.length), isRest("NoAuthenticationInformation", 401));
    await assert.rejects(new BlockBlobClient(`${az.url}/missing/w.gz?${sasToken}`, undefined, opts).upload(ndjson, ndjson.length), isRest("ContainerNotFound", 404));
    const raw = await fetch(`${az.url}/archives/w.gz?${sasToken}`, { method: "PUT", headers: { "x-ms-version": "2025-11-05" }, body: ndjson });
    assert.equal(raw.status, 400);
    assert.match(await raw.text(), /<Code>MissingRequiredHeader<\/Code>.*<HeaderName>x-ms-blob-type<\/HeaderName>/s);
    az.failNext(1);
    await assert.rejects(new BlockBlobClient(`${az.url}/archives/w.gz?${sasToken}`, undefined, opts).upload(ndjson, ndjson.length), isRest("ServerBusy", 503));
    assert.equal(az.objects("archives").some((o) => o.key === "w.gz"), false);
  });
});

describe("fake GCS: the JSON API as its docs describe it, with fetch", () => {
  let gcs: FakeObjectStore;
  before(async () => {
    gcs = await startFakeGcs((t) => t === "ya29.fake-token");
    gcs.createBucket("sb-usage");
  });
  after(() => gcs.close());
  const auth = { authorization: "Bearer ya29.fake-token" };

  test("media upload, objects.list with a prefix, alt=media read", async () => {
    const name = "2025/01/02/usage 1.ndjson.gz";
    const r = await fetch(`${gcs.url}/upload/storage/v1/b/sb-usage/o?uploadType=media&name=${encodeURIComponent(name)}&contentEncoding=gzip`, { method: "POST", headers: { ...auth, "content-type": "application/x-ndjson" }, body: ndjson });
    assert.equal(r.status, 200);
    const obj = (await r.json()) as Record<string, unknown>;
    assert.equal(obj.kind, "storage#object");
    assert.deepEqual([obj.name, obj.bucket, obj.size, obj.contentType, obj.contentEncoding], [name, "sb-usage", String(ndjson.length), "application/x-ndjson", "gzip"]);
    assert.equal(obj.md5Hash, createHash("md5").update(ndjson).digest("base64"));
    assert.match(String(obj.generation), /^\d+$/);

    const list = (await (await fetch(`${gcs.url}/storage/v1/b/sb-usage/o?prefix=2025%2F01%2F`, { headers: auth })).json()) as { kind: string; items: { name: string }[] };
    assert.equal(list.kind, "storage#objects");
    assert.deepEqual(list.items.map((i) => i.name), [name]);
    const empty = (await (await fetch(`${gcs.url}/storage/v1/b/sb-usage/o?prefix=none`, { headers: auth })).json()) as Record<string, unknown>;
    assert.deepEqual(empty, { kind: "storage#objects" });

    const media = await fetch(`${gcs.url}/storage/v1/b/sb-usage/o/${encodeURIComponent(name)}?alt=media`, { headers: { ...auth, "accept-encoding": "gzip" } });
    assert.equal(media.headers.get("content-encoding"), "gzip");
    // fetch undoes the gzip content-encoding itself: the text is the NDJSON.
    assert.match(await media.text(), /^\{"ts":1/);
    assert.deepEqual(gcs.objects("sb-usage")[0].body, ndjson);
  });

  test("multipart upload with metadata", async () => {
    const boundary = "sb-boundary-1";
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify({ name: "m/one.gz", contentType: "application/x-ndjson", contentEncoding: "gzip", metadata: { records: "2" } })}\r\n--${boundary}\r\ncontent-type: application/x-ndjson\r\n\r\n`),
      ndjson,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const r = await fetch(`${gcs.url}/upload/storage/v1/b/sb-usage/o?uploadType=multipart`, { method: "POST", headers: { ...auth, "content-type": `multipart/related; boundary=${boundary}` }, body });
    assert.equal(r.status, 200);
    const stored = gcs.objects("sb-usage").find((o) => o.key === "m/one.gz")!;
    assert.deepEqual(stored, { bucket: "sb-usage", key: "m/one.gz", body: ndjson, contentType: "application/x-ndjson", contentEncoding: "gzip", metadata: { records: "2" } });
  });

  test("refusals: a bad token (401), a missing bucket (404), failNext (503), all in Google's error shape", async () => {
    const up = (bucket: string, headers: Record<string, string> = auth) => fetch(`${gcs.url}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=x.gz`, { method: "POST", headers: { ...headers, "content-type": "application/gzip" }, body: ndjson });
    let r = await up("sb-usage", { authorization: "Bearer nope" });
    let b = (await r.json()) as { error: { code: number; message: string; errors: { reason: string }[] } };
    assert.deepEqual([r.status, b.error.code, b.error.errors[0].reason], [401, 401, "authError"]);
    r = await up("missing");
    b = (await r.json()) as typeof b;
    assert.deepEqual([r.status, b.error.code, b.error.errors[0].reason], [404, 404, "notFound"]);
    gcs.failNext(1);
    r = await up("sb-usage");
    b = (await r.json()) as typeof b;
    assert.deepEqual([r.status, b.error.code, b.error.errors[0].reason], [503, 503, "backendError"]);
    assert.equal(gcs.objects("sb-usage").some((o) => o.key === "x.gz"), false);
    r = await up("sb-usage");
    assert.equal(r.status, 200);
  });
});
