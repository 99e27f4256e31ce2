// Fake object stores over real HTTP, for the gateway's usage archives (gzipped NDJSON uploads):
// - Amazon S3, path-style only (`/{bucket}/{key}`): PutObject, GetObject, HeadObject, ListObjectsV2
//   and CreateBucket, each SigV4-checked by signing the same request again with the known secret key
//   (@smithy/signature-v4, service `s3`, `uriEscapePath: false`), with S3's XML errors
//   (`<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`). The payload hash
//   (`x-amz-content-sha256`) must match the body (or be UNSIGNED-PAYLOAD), flexible checksums
//   (`x-amz-checksum-crc32|crc32c|sha1|sha256`, `Content-MD5`) are verified, and the SDK's
//   `aws-chunked` bodies with a checksum trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) are decoded.
// - Google Cloud Storage's JSON API: media (`uploadType=media`, `name`, `contentEncoding` in the
//   query) and multipart (`uploadType=multipart`, JSON metadata + media) uploads, objects.list,
//   objects.get (metadata, or the body with `alt=media`), a bearer token accepted when `validToken`
//   says so; Google's `{"error": {code, message, errors: [...]}}`.
// - Azure Blob Storage: Put Blob (BlockBlob), Get Blob / Get Blob Properties, List Blobs, Create
//   Container, authorised by a bearer token from the fake's own Entra ID endpoint
//   (`POST {authorityUrl}/{tenant}/oauth2/v2.0/token`, scope https://storage.azure.com/.default, a
//   client secret or a federated client assertion) or by the configured SAS token in the query;
//   Azure's XML errors (`<Error><Code>…</Code><Message>…</Message></Error>`).
// Buckets (S3, GCS) and containers (Azure) do not spring into existence on first upload: create
// them with `createBucket(name)` (or S3's CreateBucket `PUT /{bucket}`, Azure's Create Container
// `PUT /{container}?restype=container`); writing into a missing one answers the service's 404
// (NoSuchBucket, GCS notFound, ContainerNotFound). `failNext(n, status)` makes the next n uploads
// that pass authentication answer `status` with the service's error shape, storing nothing.
// Every request is recorded (body as utf8, and `raw` bytes). test/fakes/object-stores.sdk.test.ts
// checks the S3 fake with the official @aws-sdk/client-s3 and the Azure fake with @azure/storage-blob.

import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { SignatureV4 } from "@smithy/signature-v4";
import { Hash } from "@smithy/hash-node";
import type { Recorded } from "./secret-managers.ts";

export type { Recorded };

/** A recorded request: `body` is the utf8 text (as in secret-managers.ts), `raw` the bytes received. */
export interface RecordedRaw extends Recorded {
  raw: Buffer;
}

export interface StoredObject {
  bucket: string;
  key: string;
  body: Buffer;
  contentType?: string;
  contentEncoding?: string;
  metadata: Record<string, string>;
}

export interface FakeObjectStore {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Every request, in arrival order. */
  requests: RecordedRaw[];
  /** Objects of one bucket (container), in key order; empty for an unknown bucket. */
  objects(bucket: string): StoredObject[];
  /** Create a bucket (container); nothing happens when it exists. */
  createBucket(name: string): void;
  /** The next n uploads (that pass authentication) answer `status` (default 503) with the service's error shape, storing nothing. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

/** Credentials the fake S3 accepts (built at run time: no key-shaped literal in the source). */
export const FAKE_S3_CREDS = { accessKeyId: ["AKIA", "FAKEOBJSTORE", "0002"].join(""), secretAccessKey: ["fake", "object", "store", "secret", "for", "tests"].join("+") };

interface Entry {
  body: Buffer;
  contentType?: string;
  contentEncoding?: string;
  metadata: Record<string, string>;
  md5: Buffer;
  lastModified: Date;
  created: Date;
  generation: string;
  checksums: Record<string, string>;
  etag: string;
}

/** An HTTP server on a free loopback port that records every request (its raw bytes too) before the handler answers it; also the log intakes' (log-intakes.ts). */
export async function serveRaw(handler: (req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse) => Promise<void> | void) {
  const requests: RecordedRaw[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: raw.toString("utf8"), raw });
      void Promise.resolve(handler(req, raw, res)).catch((err) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The failure budget every fake shares (here and log-intakes.ts): `failNext(n)`, then each upload `take()`s one. */
export function failureBudget() {
  const f = { left: 0, status: 503 };
  return {
    failNext(n: number, status = 503) {
      f.left = n;
      f.status = status;
    },
    /** The status this upload must fail with, if any (and count it). */
    take(): number | undefined {
      if (f.left <= 0) return undefined;
      f.left--;
      return f.status;
    },
  };
}

/** The JSON lines of gzipped NDJSON objects (a usage export's), in object order. */
export const objectLines = (objects: readonly StoredObject[]): Record<string, unknown>[] =>
  objects.flatMap((o) =>
    zlib
      .gunzipSync(o.body)
      .toString("utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );

/** Buckets, their objects, and the failure budget: what the three fakes share. */
function store() {
  const buckets = new Map<string, Map<string, Entry>>();
  const failures = failureBudget();
  let generation = Date.now() * 1000;
  return {
    buckets,
    createBucket: (name: string) => void (buckets.has(name) || buckets.set(name, new Map())),
    failNext: failures.failNext,
    /** The status the next upload must fail with, if any (and count it). */
    takeFailure: failures.take,
    put(bucket: string, key: string, e: Omit<Entry, "md5" | "lastModified" | "created" | "generation" | "etag">, etag: (md5: Buffer) => string): Entry {
      const md5 = createHash("md5").update(e.body).digest();
      const now = new Date();
      const prev = buckets.get(bucket)!.get(key);
      const entry: Entry = { ...e, md5, lastModified: now, created: prev?.created ?? now, generation: String(++generation), etag: etag(md5) };
      buckets.get(bucket)!.set(key, entry);
      return entry;
    },
    list(bucket: string): [string, Entry][] {
      return [...(buckets.get(bucket) ?? new Map<string, Entry>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    },
    objects(bucket: string): StoredObject[] {
      return this.list(bucket).map(([key, e]) => ({ bucket, key, body: e.body, ...(e.contentType !== undefined ? { contentType: e.contentType } : {}), ...(e.contentEncoding !== undefined ? { contentEncoding: e.contentEncoding } : {}), metadata: { ...e.metadata } }));
    },
  };
}

const xmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Metadata from `<prefix>name` headers (lowercased names, as both services return them). */
function metaFrom(headers: http.IncomingHttpHeaders, prefix: string): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k.startsWith(prefix) && v !== undefined) meta[k.slice(prefix.length)] = Array.isArray(v) ? v.join(",") : v;
  return meta;
}

/** CRC-32C (Castagnoli), as GCS's `crc32c` and S3's `x-amz-checksum-crc32c` carry it: big-endian, base64. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32c(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const u32b64 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString("base64");
};

// ---------------------------------------------------------------------------------------------
// Amazon S3

const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** The flexible checksums S3 verifies (the header's name → how the body's value is computed). */
const S3_CHECKSUMS: Record<string, (b: Buffer) => string> = {
  "x-amz-checksum-crc32": (b) => u32b64(zlib.crc32(b)),
  "x-amz-checksum-crc32c": (b) => u32b64(crc32c(b)),
  "x-amz-checksum-sha1": (b) => createHash("sha1").update(b).digest("base64"),
  "x-amz-checksum-sha256": (b) => createHash("sha256").update(b).digest("base64"),
};

/** Decode an `aws-chunked` body (`<hex size>[;ext]\r\n<bytes>\r\n … 0\r\n<trailer>: <value>\r\n\r\n`): the payload and the trailers. */
function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = parseInt(raw.subarray(at, eol).toString("latin1").split(";")[0], 16);
    if (!Number.isFinite(size)) return undefined;
    at = eol + 2;
    if (size === 0) break;
    if (at + size + 2 > raw.length) return undefined;
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of raw.subarray(at).toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { body: Buffer.concat(parts), trailers };
}

/**
 * Amazon S3 (path-style). Buckets exist once created: `createBucket(name)`, the `buckets` option,
 * or CreateBucket (`PUT /{bucket}`, signed). Region default us-east-1; a request signed for another
 * region answers AuthorizationHeaderMalformed.
 */
export async function startFakeS3(opts: { region?: string; buckets?: string[] } = {}): Promise<FakeObjectStore & { region: string }> {
  const region = opts.region ?? "us-east-1";
  const st = store();
  for (const b of opts.buckets ?? []) st.createBucket(b);
  const signer = new SignatureV4({ service: "s3", region, credentials: FAKE_S3_CREDS, sha256: Hash.bind(null, "sha256"), uriEscapePath: false, applyChecksum: true });

  const error = (res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}, head = false) => {
    const requestId = randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase();
    const hostId = Buffer.from(randomUUID()).toString("base64");
    const headers = { "content-type": "application/xml", "x-amz-request-id": requestId, "x-amz-id-2": hostId };
    if (head) {
      res.writeHead(status, headers);
      return void res.end();
    }
    const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join("");
    res.writeHead(status, headers);
    res.end(`${XML_DECL}<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`);
  };
  const failWith = (res: http.ServerResponse, status: number) => {
    const known: Record<number, [string, string]> = {
      500: ["InternalError", "We encountered an internal error. Please try again."],
      503: ["SlowDown", "Please reduce your request rate."],
      400: ["BadRequest", "Bad Request"],
      403: ["AccessDenied", "Access Denied"],
      404: ["NoSuchKey", "The specified key does not exist."],
      409: ["OperationAborted", "A conflicting conditional operation is currently in progress against this resource. Please try again."],
      412: ["PreconditionFailed", "At least one of the pre-conditions you specified did not hold"],
    };
    const [code, message] = known[status] ?? ["ServiceUnavailable", "Service is unable to handle request."];
    return error(res, status, code, message);
  };

  /** SigV4 in the Authorization header, checked by signing the received request again. */
  async function authenticate(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse, head: boolean): Promise<boolean> {
    const auth = String(req.headers.authorization ?? "");
    if (!auth) return error(res, 403, "AccessDenied", "Access Denied", {}, head), false;
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return error(res, 400, "AuthorizationHeaderMalformed", "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.", {}, head), false;
    if (m[1] !== FAKE_S3_CREDS.accessKeyId) return error(res, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", { AWSAccessKeyId: m[1] }, head), false;
    if (m[3] !== region) return error(res, 400, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${m[3]}' is wrong; expecting '${region}'`, { Region: region }, head), false;
    if (m[4] !== "s3") return error(res, 400, "AuthorizationHeaderMalformed", `The authorization header is malformed; incorrect service '${m[4]}'. This endpoint belongs to 's3'.`, {}, head), false;
    const amzDate = String(req.headers["x-amz-date"] ?? "");
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!when) return error(res, 403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", {}, head), false;
    const signingDate = new Date(Date.UTC(+when[1], +when[2] - 1, +when[3], +when[4], +when[5], +when[6]));
    if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) return error(res, 403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", { RequestTime: amzDate, ServerTime: new Date().toISOString(), MaxAllowedSkewMilliseconds: "900000" }, head), false;
    const sha = req.headers["x-amz-content-sha256"];
    if (typeof sha !== "string") return error(res, 400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", {}, head), false;
    if (sha === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" || sha === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") return error(res, 501, "NotImplemented", "A header you provided implies functionality that is not implemented (signed streaming payloads).", { Header: "x-amz-content-sha256" }, head), false;
    if (sha !== "UNSIGNED-PAYLOAD" && sha !== "STREAMING-UNSIGNED-PAYLOAD-TRAILER" && sha !== createHash("sha256").update(raw).digest("hex")) {
      return error(res, 400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", { ClientComputedContentSHA256: sha, S3ComputedContentSHA256: createHash("sha256").update(raw).digest("hex") }, head), false;
    }
    const headers: Record<string, string> = {};
    for (const h of m[5].split(";")) headers[h] = String(req.headers[h] ?? "");
    const url = new URL(req.url ?? "/", "http://x");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const path = (req.url ?? "/").split("?")[0];
    const again = await signer.sign(
      { method: req.method ?? "GET", protocol: "http:", hostname: String(req.headers.host ?? "").split(":")[0], path, query, headers, body: raw },
      { signingDate, unsignableHeaders: new Set(), signableHeaders: new Set(Object.keys(headers)) },
    );
    const sig = /Signature=([0-9a-f]{64})/.exec(String(again.headers.authorization ?? ""))?.[1];
    if (sig !== m[6]) return error(res, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", { AWSAccessKeyId: m[1], SignatureProvided: m[6] }, head), false;
    return true;
  }

  const objectHeaders = (e: Entry): Record<string, string> => {
    const h: Record<string, string> = {
      "content-type": e.contentType ?? "binary/octet-stream",
      "content-length": String(e.body.length),
      etag: e.etag,
      "last-modified": e.lastModified.toUTCString(),
      "accept-ranges": "bytes",
      "x-amz-server-side-encryption": "AES256",
      "x-amz-request-id": randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase(),
    };
    if (e.contentEncoding) h["content-encoding"] = e.contentEncoding;
    for (const [k, v] of Object.entries(e.metadata)) h[`x-amz-meta-${k}`] = v;
    return h;
  };

  const s = await serveRaw(async (req, raw, res) => {
    const method = req.method ?? "GET";
    const head = method === "HEAD";
    const url = new URL(req.url ?? "/", "http://s3");
    const rawPath = (req.url ?? "/").split("?")[0];
    const slash = rawPath.indexOf("/", 1);
    const bucket = decodeURIComponent(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
    const key = slash < 0 ? "" : rawPath.slice(slash + 1).split("/").map(decodeURIComponent).join("/");
    if (!bucket) return error(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource (ListBuckets is not served by this fake).");
    if (!(await authenticate(req, raw, res, head))) return;

    if (!key) {
      if (method === "PUT") {
        if (st.buckets.has(bucket)) return error(res, 409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", { BucketName: bucket });
        st.createBucket(bucket);
        res.writeHead(200, { location: `/${bucket}`, "x-amz-request-id": randomUUID() });
        return void res.end();
      }
      if (!st.buckets.has(bucket)) return error(res, 404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket }, head);
      if (method === "HEAD") {
        res.writeHead(200, { "x-amz-bucket-region": region });
        return void res.end();
      }
      if (method !== "GET" || url.searchParams.get("list-type") !== "2") return error(res, 501, "NotImplemented", "A header or query you provided implies functionality that is not implemented (this fake serves ListObjectsV2 only).");
      const prefix = url.searchParams.get("prefix") ?? "";
      const delimiter = url.searchParams.get("delimiter") ?? "";
      const maxKeys = Math.min(1000, Number(url.searchParams.get("max-keys") ?? 1000));
      const token = url.searchParams.get("continuation-token");
      const startAfter = url.searchParams.get("start-after") ?? "";
      const urlEncode = url.searchParams.get("encoding-type") === "url";
      const enc = (s: string) => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
      let after = startAfter;
      if (token) {
        after = Buffer.from(token, "base64url").toString("utf8");
        if (!after) return error(res, 400, "InvalidArgument", "The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
      }
      const contents: string[] = [];
      const prefixes = new Set<string>();
      let count = 0;
      let last = "";
      let truncated = false;
      for (const [k, e] of st.list(bucket)) {
        if (!k.startsWith(prefix) || k <= after) continue;
        const cut = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
        const common = cut >= 0 ? k.slice(0, cut + delimiter.length) : undefined;
        if (common !== undefined && prefixes.has(common)) continue;
        if (count >= maxKeys) {
          truncated = true;
          break;
        }
        count++;
        last = common ?? k;
        if (common !== undefined) prefixes.add(common);
        else contents.push(`<Contents><Key>${enc(k)}</Key><LastModified>${e.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(e.etag)}</ETag><Size>${e.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`);
      }
      // A common prefix is skipped past as a whole on the next page.
      const next = truncated ? Buffer.from(prefixes.has(last) ? `${last}\u{10ffff}` : last, "utf8").toString("base64url") : undefined;
      const xml =
        `${XML_DECL}<ListBucketResult xmlns="${S3_NS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>` +
        (startAfter ? `<StartAfter>${enc(startAfter)}</StartAfter>` : "") +
        (token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : "") +
        `<KeyCount>${count}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
        (delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : "") +
        (urlEncode ? "<EncodingType>url</EncodingType>" : "") +
        `<IsTruncated>${truncated}</IsTruncated>` +
        (next ? `<NextContinuationToken>${next}</NextContinuationToken>` : "") +
        contents.join("") +
        [...prefixes].map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`).join("") +
        "</ListBucketResult>";
      res.writeHead(200, { "content-type": "application/xml", "x-amz-request-id": randomUUID() });
      return void res.end(xml);
    }

    if (!st.buckets.has(bucket)) return error(res, 404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket }, head);
    if (method === "GET" || method === "HEAD") {
      const e = st.buckets.get(bucket)!.get(key);
      if (!e) return error(res, 404, "NoSuchKey", "The specified key does not exist.", { Key: key }, head);
      const h = objectHeaders(e);
      if (req.headers["x-amz-checksum-mode"] === "ENABLED") Object.assign(h, e.checksums);
      res.writeHead(200, h);
      return void res.end(head ? undefined : e.body);
    }
    if (method !== "PUT") return error(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    if (req.headers["x-amz-copy-source"]) return error(res, 501, "NotImplemented", "A header you provided implies functionality that is not implemented (CopyObject).", { Header: "x-amz-copy-source" });

    let body = raw;
    let encodings = String(req.headers["content-encoding"] ?? "").split(",").map((x) => x.trim()).filter(Boolean);
    const given: Record<string, string> = {};
    for (const name of Object.keys(S3_CHECKSUMS)) if (typeof req.headers[name] === "string") given[name] = req.headers[name] as string;
    if (req.headers["x-amz-content-sha256"] === "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || encodings.includes("aws-chunked")) {
      const decoded = decodeAwsChunked(raw);
      if (!decoded) return error(res, 400, "IncompleteBody", "The request body terminated unexpectedly");
      body = decoded.body;
      encodings = encodings.filter((x) => x !== "aws-chunked");
      const declared = req.headers["x-amz-decoded-content-length"];
      if (declared !== undefined && Number(declared) !== body.length) return error(res, 400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header");
      for (const t of String(req.headers["x-amz-trailer"] ?? "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean)) {
        if (decoded.trailers[t] === undefined) return error(res, 400, "MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema.");
        if (t in S3_CHECKSUMS) given[t] = decoded.trailers[t];
      }
    }
    const md5 = req.headers["content-md5"];
    if (typeof md5 === "string" && md5 !== createHash("md5").update(body).digest("base64")) return error(res, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
    for (const [name, value] of Object.entries(given)) {
      if (S3_CHECKSUMS[name](body) !== value) return error(res, 400, "BadDigest", `The ${name.slice("x-amz-checksum-".length).toUpperCase()} you specified did not match the calculated checksum.`);
    }
    const status = st.takeFailure();
    if (status !== undefined) return failWith(res, status);
    const e = st.put(
      bucket,
      key,
      {
        body,
        ...(req.headers["content-type"] ? { contentType: String(req.headers["content-type"]) } : {}),
        ...(encodings.length ? { contentEncoding: encodings.join(",") } : {}),
        metadata: metaFrom(req.headers, "x-amz-meta-"),
        checksums: given,
      },
      (m) => `"${m.toString("hex")}"`,
    );
    res.writeHead(200, { etag: e.etag, "x-amz-server-side-encryption": "AES256", "x-amz-request-id": randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase(), ...given });
    res.end();
  });
  return { url: s.url, region, requests: s.requests, objects: (b) => st.objects(b), createBucket: st.createBucket, failNext: (n, status) => st.failNext(n, status), close: s.close };
}

// ---------------------------------------------------------------------------------------------
// Google Cloud Storage (JSON API)

/**
 * Google Cloud Storage's JSON API. Buckets exist once created with `createBucket(name)` (or the
 * `buckets` option); others answer 404 notFound. Every request needs `Authorization: Bearer <t>`
 * with `validToken(t)` true. Objects stored with `contentEncoding: gzip` are served gunzipped
 * (decompressive transcoding) to a `alt=media` read without `Accept-Encoding: gzip`, as GCS does.
 */
export async function startFakeGcs(validToken: (t: string) => boolean, opts: { buckets?: string[] } = {}): Promise<FakeObjectStore> {
  const st = store();
  for (const b of opts.buckets ?? []) st.createBucket(b);
  let base = "";
  const gerror = (res: http.ServerResponse, code: number, message: string, reason: string, extra: Record<string, string> = {}) => {
    res.writeHead(code, { "content-type": "application/json; charset=UTF-8", ...(code === 401 ? { "www-authenticate": 'Bearer realm="https://accounts.google.com/"' } : {}) });
    res.end(JSON.stringify({ error: { code, message, errors: [{ message, domain: "global", reason, ...extra }] } }));
  };
  const failWith = (res: http.ServerResponse, status: number) => {
    const known: Record<number, [string, string]> = {
      429: ["The rate of change requests to the object is too high; please reduce the rate of change requests.", "rateLimitExceeded"],
      500: ["We encountered an internal error. Please try again.", "backendError"],
      502: ["Bad Gateway", "backendError"],
      503: ["We encountered an internal error. Please try again.", "backendError"],
    };
    const [message, reason] = known[status] ?? ["Backend Error", "backendError"];
    return gerror(res, status, message, reason);
  };
  const resource = (bucket: string, name: string, e: Entry) => {
    const enc = encodeURIComponent(name);
    return {
      kind: "storage#object",
      id: `${bucket}/${name}/${e.generation}`,
      selfLink: `${base}/storage/v1/b/${bucket}/o/${enc}`,
      mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${enc}?generation=${e.generation}&alt=media`,
      name,
      bucket,
      generation: e.generation,
      metageneration: "1",
      contentType: e.contentType ?? "application/octet-stream",
      ...(e.contentEncoding ? { contentEncoding: e.contentEncoding } : {}),
      storageClass: "STANDARD",
      size: String(e.body.length),
      md5Hash: e.md5.toString("base64"),
      crc32c: u32b64(crc32c(e.body)),
      etag: e.etag,
      timeCreated: e.lastModified.toISOString(),
      updated: e.lastModified.toISOString(),
      timeStorageClassUpdated: e.lastModified.toISOString(),
      timeFinalized: e.lastModified.toISOString(),
      ...(Object.keys(e.metadata).length ? { metadata: { ...e.metadata } } : {}),
    };
  };

  /** Split a multipart/related body into its parts (headers lowercased, body bytes). */
  function multipart(raw: Buffer, contentType: string): { headers: Record<string, string>; body: Buffer }[] | undefined {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) return undefined;
    const delim = Buffer.from(`--${boundary}`);
    const parts: { headers: Record<string, string>; body: Buffer }[] = [];
    let at = raw.indexOf(delim);
    if (at < 0) return undefined;
    for (;;) {
      at += delim.length;
      if (raw.subarray(at, at + 2).toString() === "--") break;
      const next = raw.indexOf(delim, at);
      if (next < 0) return undefined;
      let part = raw.subarray(at, next);
      if (part.subarray(0, 2).toString() === "\r\n") part = part.subarray(2);
      else if (part.subarray(0, 1).toString() === "\n") part = part.subarray(1);
      let end = part.indexOf("\r\n\r\n");
      let sep = 4;
      if (end < 0) [end, sep] = [part.indexOf("\n\n"), 2];
      if (end < 0) return undefined;
      const headers: Record<string, string> = {};
      for (const line of part.subarray(0, end).toString("utf8").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = part.subarray(end + sep);
      if (body.subarray(-2).toString() === "\r\n") body = body.subarray(0, -2);
      else if (body.subarray(-1).toString() === "\n") body = body.subarray(0, -1);
      parts.push({ headers, body });
      at = next;
    }
    return parts;
  }

  const s = await serveRaw((req, raw, res) => {
    const url = new URL(req.url ?? "/", "http://gcs");
    const method = req.method ?? "GET";
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const get = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (!(upload && method === "POST") && !(list && method === "GET") && !(get && method === "GET")) return gerror(res, 404, "Not Found", "notFound");
    if (!token) return gerror(res, 401, "Anonymous caller does not have storage.objects access to the Google Cloud Storage bucket. Permission 'storage.objects' denied on resource (or it may not exist).", "required", { locationType: "header", location: "Authorization" });
    if (!validToken(token)) return gerror(res, 401, "Invalid Credentials", "authError", { locationType: "header", location: "Authorization" });
    const bucket = decodeURIComponent((upload ?? list ?? get)![1]);
    if (!st.buckets.has(bucket)) return gerror(res, 404, "The specified bucket does not exist.", "notFound");

    if (upload) {
      const type = url.searchParams.get("uploadType");
      let name = url.searchParams.get("name") ?? undefined;
      let body = raw;
      let contentType = req.headers["content-type"] ? String(req.headers["content-type"]) : undefined;
      let contentEncoding = url.searchParams.get("contentEncoding") ?? undefined;
      let metadata: Record<string, string> = {};
      let md5Given: string | undefined;
      if (type === "multipart") {
        const parts = multipart(raw, String(req.headers["content-type"] ?? ""));
        if (!parts || parts.length !== 2) return gerror(res, 400, "Invalid multipart request with 0 mime parts.", "invalid");
        let meta: { name?: string; contentType?: string; contentEncoding?: string; metadata?: Record<string, string>; md5Hash?: string };
        try {
          meta = JSON.parse(parts[0].body.toString("utf8"));
        } catch {
          return gerror(res, 400, "Metadata part is too large or not valid JSON.", "invalid");
        }
        name = meta.name ?? name;
        body = parts[1].body;
        contentType = meta.contentType ?? parts[1].headers["content-type"];
        contentEncoding = meta.contentEncoding ?? contentEncoding;
        metadata = Object.fromEntries(Object.entries(meta.metadata ?? {}).map(([k, v]) => [k, String(v)]));
        md5Given = meta.md5Hash;
      } else if (type !== "media") {
        return gerror(res, 400, `Invalid upload type: ${type ?? "(none)"}; this fake serves uploadType=media and uploadType=multipart.`, "invalidParameter", { locationType: "parameter", location: "uploadType" });
      }
      if (!name) return gerror(res, 400, "Required", "required");
      if (md5Given && md5Given !== createHash("md5").update(body).digest("base64")) return gerror(res, 400, "Provided MD5 hash \"" + md5Given + "\" doesn't match calculated MD5 hash \"" + createHash("md5").update(body).digest("base64") + "\".", "invalid");
      const ifGen = url.searchParams.get("ifGenerationMatch");
      const existing = st.buckets.get(bucket)!.get(name);
      if (ifGen !== null && (ifGen === "0" ? existing !== undefined : existing?.generation !== ifGen)) return gerror(res, 412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet", { locationType: "header", location: "If-Match" });
      const status = st.takeFailure();
      if (status !== undefined) return failWith(res, status);
      const e = st.put(bucket, name, { body, contentType: contentType ?? "application/octet-stream", ...(contentEncoding ? { contentEncoding } : {}), metadata, checksums: {} }, () => `C${randomUUID().replace(/-/g, "").slice(0, 12)}EAE=`);
      res.writeHead(200, { "content-type": "application/json; charset=UTF-8", etag: e.etag, "x-guploader-uploadid": randomUUID() });
      return void res.end(JSON.stringify(resource(bucket, name, e)));
    }

    if (list) {
      const prefix = url.searchParams.get("prefix") ?? "";
      const delimiter = url.searchParams.get("delimiter") ?? "";
      const max = Math.min(1000, Number(url.searchParams.get("maxResults") ?? 1000));
      const after = url.searchParams.get("pageToken") ? Buffer.from(url.searchParams.get("pageToken")!, "base64url").toString("utf8") : "";
      const items: unknown[] = [];
      const prefixes = new Set<string>();
      let last = "";
      let more = false;
      for (const [k, e] of st.list(bucket)) {
        if (!k.startsWith(prefix) || k <= after) continue;
        const cut = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
        const common = cut >= 0 ? k.slice(0, cut + delimiter.length) : undefined;
        if (common !== undefined && prefixes.has(common)) continue;
        if (items.length + prefixes.size >= max) {
          more = true;
          break;
        }
        last = common ?? k;
        if (common !== undefined) prefixes.add(common);
        else items.push(resource(bucket, k, e));
      }
      // As GCS does: no `items` at all when nothing matched.
      const out: Record<string, unknown> = { kind: "storage#objects" };
      if (more) out.nextPageToken = Buffer.from(prefixes.has(last) ? `${last}\u{10ffff}` : last, "utf8").toString("base64url");
      if (prefixes.size) out.prefixes = [...prefixes];
      if (items.length) out.items = items;
      res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
      return void res.end(JSON.stringify(out));
    }

    const name = decodeURIComponent(get![2]);
    const e = st.buckets.get(bucket)!.get(name);
    if (!e) return gerror(res, 404, `No such object: ${bucket}/${name}`, "notFound");
    if (url.searchParams.get("alt") !== "media" && !url.pathname.startsWith("/download/")) {
      res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
      return void res.end(JSON.stringify(resource(bucket, name, e)));
    }
    const headers: Record<string, string> = {
      "content-type": e.contentType ?? "application/octet-stream",
      etag: e.etag,
      "x-goog-generation": e.generation,
      "x-goog-metageneration": "1",
      "x-goog-stored-content-length": String(e.body.length),
      "x-goog-hash": `crc32c=${u32b64(crc32c(e.body))},md5=${e.md5.toString("base64")}`,
      "last-modified": e.lastModified.toUTCString(),
    };
    let body = e.body;
    if (e.contentEncoding) {
      headers["x-goog-stored-content-encoding"] = e.contentEncoding;
      if (e.contentEncoding === "gzip" && !/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
        body = zlib.gunzipSync(e.body);
        headers.warning = "214 UploadServer gunzipped";
      } else headers["content-encoding"] = e.contentEncoding;
    }
    headers["content-length"] = String(body.length);
    res.writeHead(200, headers);
    res.end(body);
  });
  base = s.url;
  return { url: s.url, requests: s.requests, objects: (b) => st.objects(b), createBucket: st.createBucket, failNext: (n, status) => st.failNext(n, status), close: s.close };
}

// ---------------------------------------------------------------------------------------------
// Azure Blob Storage

export interface FakeAzureBlob extends FakeObjectStore {
  /** The Entra ID authority (https://login.microsoftonline.com in Azure): `<authorityUrl>/<tenant>/oauth2/v2.0/token`. */
  authorityUrl: string;
  /** The blob endpoint as Azure would name it (https://<account>.blob.core.windows.net); requests go to `url`. */
  account: string;
}

/** Scopes the fake's Entra endpoint issues storage tokens for. */
const storageScopes = (account: string) => ["https://storage.azure.com/.default", `https://${account}.blob.core.windows.net/.default`];

/**
 * Azure Blob Storage, path-style against `url` (`/{container}/{blob}`; Azure's own URL is
 * https://{account}.blob.core.windows.net/{container}/{blob}). Containers exist once created:
 * `createBucket(name)`, the `containers` option, or Create Container (`PUT /{container}?restype=container`).
 * Authorised by `Authorization: Bearer <token from this fake's Entra endpoint>` or by the query
 * carrying every parameter of `sasToken` with the same value (whose `sp` must grant the operation:
 * c or w to write, r to read, l to list).
 */
export async function startFakeAzureBlob(app: { account: string; tenantId: string; clientId: string; clientSecret?: string; federatedToken?: string; sasToken?: string; containers?: string[] }): Promise<FakeAzureBlob> {
  const st = store();
  for (const c of app.containers ?? []) st.createBucket(c);
  const tokens = new Set<string>();
  const sas = app.sasToken ? new URLSearchParams(app.sasToken.replace(/^\?/, "")) : undefined;
  let base = "";

  const azError = (req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const requestId = randomUUID();
    const h: Record<string, string> = { "content-type": "application/xml", "x-ms-request-id": requestId, "x-ms-version": String(req.headers["x-ms-version"] ?? "2025-11-05"), "x-ms-error-code": code, ...headers };
    if (req.headers["x-ms-client-request-id"]) h["x-ms-client-request-id"] = String(req.headers["x-ms-client-request-id"]);
    res.writeHead(status, h);
    if (req.method === "HEAD") return void res.end();
    const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join("");
    res.end(`\u{feff}<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${xmlEscape(`${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`)}</Message>${fields}</Error>`);
  };
  const failWith = (req: http.IncomingMessage, res: http.ServerResponse, status: number) => {
    const known: Record<number, [string, string]> = {
      500: ["InternalError", "The server encountered an internal error. Please retry the request."],
      503: ["ServerBusy", "The server is currently unable to receive requests. Please retry your request."],
      408: ["OperationTimedOut", "The operation could not be completed within the permitted time."],
      409: ["LeaseIdMissing", "There is currently a lease on the blob and no lease ID was specified in the request."],
    };
    const [code, message] = known[status] ?? ["ServerBusy", "Operations per second is over the account limit."];
    return azError(req, res, status, code, message);
  };
  const okHeaders = (req: http.IncomingMessage): Record<string, string> => {
    const h: Record<string, string> = { "x-ms-request-id": randomUUID(), "x-ms-version": String(req.headers["x-ms-version"]), date: new Date().toUTCString() };
    if (req.headers["x-ms-client-request-id"]) h["x-ms-client-request-id"] = String(req.headers["x-ms-client-request-id"]);
    return h;
  };
  const AUTH_FAILED = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

  /** Bearer or SAS; `perm` is the SAS permission the operation needs (any of its letters). */
  function authorised(req: http.IncomingMessage, res: http.ServerResponse, url: URL, perm: string, resourceType: "o" | "c"): boolean {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    if (bearer) {
      if (tokens.has(bearer)) return true;
      azError(req, res, 403, "AuthenticationFailed", AUTH_FAILED, { AuthenticationErrorDetail: "Signature validation failed. Signature verification failed." });
      return false;
    }
    if (req.headers.authorization) {
      azError(req, res, 403, "AuthenticationFailed", AUTH_FAILED, { AuthenticationErrorDetail: "The MAC signature found in the HTTP request is not the same as any computed signature (Shared Key is not accepted by this fake)." });
      return false;
    }
    if (url.searchParams.has("sig")) {
      if (!sas || [...sas].some(([k, v]) => url.searchParams.get(k) !== v)) {
        azError(req, res, 403, "AuthenticationFailed", AUTH_FAILED, { AuthenticationErrorDetail: "Signature did not match. String to sign used was (not computed by this fake)." });
        return false;
      }
      const se = sas.get("se");
      if (se && Date.parse(se) < Date.now()) {
        azError(req, res, 403, "AuthenticationFailed", AUTH_FAILED, { AuthenticationErrorDetail: `Signed expiry time [${new Date(Date.parse(se)).toUTCString()}] must be after signed start time [${new Date().toUTCString()}]` });
        return false;
      }
      const sp = sas.get("sp") ?? "";
      const srt = sas.get("srt");
      const ss = sas.get("ss");
      if (![...perm].some((p) => sp.includes(p)) || (srt !== null && !srt.includes(resourceType)) || (ss !== null && !ss.includes("b"))) {
        azError(req, res, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
        return false;
      }
      return true;
    }
    azError(req, res, 401, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", {}, { "www-authenticate": `Bearer authorization_uri=${base}/${app.tenantId}/oauth2/authorize resource_id=https://storage.azure.com` });
    return false;
  }

  const blobHeaders = (e: Entry): Record<string, string> => {
    const h: Record<string, string> = {
      "content-type": e.contentType ?? "application/octet-stream",
      "content-length": String(e.body.length),
      "content-md5": e.md5.toString("base64"),
      etag: e.etag,
      "last-modified": e.lastModified.toUTCString(),
      "x-ms-creation-time": e.created.toUTCString(),
      "x-ms-blob-type": "BlockBlob",
      "x-ms-lease-status": "unlocked",
      "x-ms-lease-state": "available",
      "x-ms-server-encrypted": "true",
      "x-ms-access-tier": "Hot",
      "x-ms-access-tier-inferred": "true",
      "accept-ranges": "bytes",
    };
    if (e.contentEncoding) h["content-encoding"] = e.contentEncoding;
    for (const [k, v] of Object.entries(e.metadata)) h[`x-ms-meta-${k}`] = v;
    return h;
  };

  const s = await serveRaw((req, raw, res) => {
    const url = new URL(req.url ?? "/", "http://blob");
    const method = req.method ?? "GET";
    const tok = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (tok && method === "POST") {
      const f = new URLSearchParams(raw.toString("utf8"));
      const bad = (status: number, error: string, description: string) => {
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() }));
      };
      if (decodeURIComponent(tok[1]) !== app.tenantId) return bad(400, "invalid_request", `AADSTS90002: Tenant '${decodeURIComponent(tok[1])}' not found.`);
      if (f.get("grant_type") !== "client_credentials") return bad(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.");
      if (f.get("client_id") !== app.clientId) return bad(400, "unauthorized_client", `AADSTS700016: Application with identifier '${f.get("client_id")}' was not found in the directory.`);
      if (!storageScopes(app.account).includes(f.get("scope") ?? "")) return bad(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
      const bySecret = app.clientSecret !== undefined && f.get("client_secret") === app.clientSecret;
      const byAssertion = app.federatedToken !== undefined && f.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && f.get("client_assertion") === app.federatedToken;
      if (!bySecret && !byAssertion) return bad(401, "invalid_client", f.has("client_assertion") ? "AADSTS700213: No matching federated identity record found for presented assertion." : "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
      const access = `eyJ0eXAi.${randomUUID()}`;
      tokens.add(access);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
      return void res.end(JSON.stringify({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: access }));
    }

    const rawPath = (req.url ?? "/").split("?")[0];
    const slash = rawPath.indexOf("/", 1);
    const container = decodeURIComponent(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
    const blob = slash < 0 ? "" : rawPath.slice(slash + 1).split("/").map(decodeURIComponent).join("/");
    if (!container) return azError(req, res, 400, "InvalidUri", "The requested URI does not represent any resource on the server.");
    if (!req.headers["x-ms-version"]) return azError(req, res, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.", { HeaderName: "x-ms-version" });

    if (!blob) {
      if (url.searchParams.get("restype") !== "container") return azError(req, res, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.", { QueryParameterName: "restype", QueryParameterValue: url.searchParams.get("restype") ?? "" });
      if (method === "PUT" && !url.searchParams.has("comp")) {
        if (!authorised(req, res, url, "c", "c")) return;
        if (st.buckets.has(container)) return azError(req, res, 409, "ContainerAlreadyExists", "The specified container already exists.");
        st.createBucket(container);
        res.writeHead(201, { ...okHeaders(req), etag: `"0x${Date.now().toString(16).toUpperCase()}"`, "last-modified": new Date().toUTCString() });
        return void res.end();
      }
      if (method !== "GET" || url.searchParams.get("comp") !== "list") return azError(req, res, 400, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb (this fake serves List Blobs and Create Container on containers).");
      if (!authorised(req, res, url, "l", "c")) return;
      if (!st.buckets.has(container)) return azError(req, res, 404, "ContainerNotFound", "The specified container does not exist.");
      const prefix = url.searchParams.get("prefix") ?? "";
      const max = Math.min(5000, Number(url.searchParams.get("maxresults") ?? 5000));
      const marker = url.searchParams.get("marker") ?? "";
      const after = marker ? Buffer.from(marker, "base64url").toString("utf8") : "";
      const include = (url.searchParams.get("include") ?? "").split(",");
      const items: string[] = [];
      let last = "";
      let more = false;
      for (const [k, e] of st.list(container)) {
        if (!k.startsWith(prefix) || k <= after) continue;
        if (items.length >= max) {
          more = true;
          break;
        }
        last = k;
        const meta = include.includes("metadata") ? `<Metadata>${Object.entries(e.metadata).map(([mk, mv]) => `<${mk}>${xmlEscape(mv)}</${mk}>`).join("")}</Metadata>` : "";
        items.push(
          `<Blob><Name>${xmlEscape(k)}</Name><Properties><Creation-Time>${e.created.toUTCString()}</Creation-Time><Last-Modified>${e.lastModified.toUTCString()}</Last-Modified><Etag>${xmlEscape(e.etag)}</Etag>` +
            `<Content-Length>${e.body.length}</Content-Length><Content-Type>${xmlEscape(e.contentType ?? "application/octet-stream")}</Content-Type><Content-Encoding>${xmlEscape(e.contentEncoding ?? "")}</Content-Encoding><Content-Language /><Content-CRC64 /><Content-MD5>${e.md5.toString("base64")}</Content-MD5><Cache-Control /><Content-Disposition />` +
            `<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties>${meta}<OrMetadata /></Blob>`,
        );
      }
      const next = more ? Buffer.from(last, "utf8").toString("base64url") : "";
      const xml =
        `\u{feff}<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${xmlEscape(base)}/" ContainerName="${xmlEscape(container)}">` +
        (prefix ? `<Prefix>${xmlEscape(prefix)}</Prefix>` : "") +
        (marker ? `<Marker>${xmlEscape(marker)}</Marker>` : "") +
        (url.searchParams.has("maxresults") ? `<MaxResults>${max}</MaxResults>` : "") +
        `<Blobs>${items.join("")}</Blobs>${next ? `<NextMarker>${next}</NextMarker>` : "<NextMarker />"}</EnumerationResults>`;
      res.writeHead(200, { ...okHeaders(req), "content-type": "application/xml" });
      return void res.end(xml);
    }

    if (method === "GET" || method === "HEAD") {
      if (!authorised(req, res, url, "r", "o")) return;
      if (!st.buckets.has(container)) return azError(req, res, 404, "ContainerNotFound", "The specified container does not exist.");
      const e = st.buckets.get(container)!.get(blob);
      if (!e) return azError(req, res, 404, "BlobNotFound", "The specified blob does not exist.");
      res.writeHead(200, { ...okHeaders(req), ...blobHeaders(e) });
      return void res.end(method === "HEAD" ? undefined : e.body);
    }
    if (method !== "PUT") return azError(req, res, 405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.");
    if (url.searchParams.has("comp")) return azError(req, res, 400, "UnsupportedQueryParameter", "One of the query parameters specified in the request URI is not supported (this fake serves Put Blob only, not Put Block / Put Block List).", { QueryParameterName: "comp", QueryParameterValue: url.searchParams.get("comp") ?? "" });
    if (!authorised(req, res, url, "cw", "o")) return;
    const type = req.headers["x-ms-blob-type"];
    if (!type) return azError(req, res, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.", { HeaderName: "x-ms-blob-type" });
    if (type !== "BlockBlob") return azError(req, res, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format (this fake stores block blobs only).", { HeaderName: "x-ms-blob-type", HeaderValue: String(type) });
    if (!st.buckets.has(container)) return azError(req, res, 404, "ContainerNotFound", "The specified container does not exist.");
    const md5 = createHash("md5").update(raw).digest("base64");
    const given = req.headers["content-md5"] ?? req.headers["x-ms-blob-content-md5"];
    if (typeof given === "string" && given !== md5) return azError(req, res, 400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.", { UserSpecifiedMd5: given, ServerCalculatedMd5: md5 });
    const status = st.takeFailure();
    if (status !== undefined) return failWith(req, res, status);
    const contentType = req.headers["x-ms-blob-content-type"] ?? req.headers["content-type"];
    const contentEncoding = req.headers["x-ms-blob-content-encoding"] ?? req.headers["content-encoding"];
    const e = st.put(
      container,
      blob,
      { body: raw, contentType: contentType ? String(contentType) : "application/octet-stream", ...(contentEncoding ? { contentEncoding: String(contentEncoding) } : {}), metadata: metaFrom(req.headers, "x-ms-meta-"), checksums: {} },
      () => `"0x${(Date.now() * 10_000 + Math.floor(Math.random() * 10_000)).toString(16).toUpperCase()}"`,
    );
    res.writeHead(201, { ...okHeaders(req), etag: e.etag, "last-modified": e.lastModified.toUTCString(), "content-md5": md5, "x-ms-request-server-encrypted": "true", "content-length": "0" });
    res.end();
  });
  base = s.url;
  return {
    url: s.url,
    authorityUrl: s.url,
    account: app.account,
    requests: s.requests,
    objects: (b) => st.objects(b),
    createBucket: st.createBucket,
    failNext: (n, status) => st.failNext(n, status),
    close: s.close,
  };
}
