// Feedback on answered requests: POST /v1/feedback (Portkey's shape, by trace id or request id) and
// UsageService.SubmitFeedback, kept with the request's own route, variant and deployment, and
// GetFeedbackSummary comparing an A/B split's variants by their users' scores. Who may score and
// read what follows the usage rules (a team key its team's requests). Over real sockets, with fetch and
// @signalbox/client; then two replicas on a private PostgreSQL: a request answered
// on one, scored on the other, summarised on the first, and still there after a restart.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createSignalboxClient, Dimension, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startPostgresReplicas } from "../helpers/postgres.ts";
import { abConfig, askAb, askBoth, type Answered } from "../helpers/ab-route.ts";

const key = (...p: string[]) => ["sbx", "test", "feedback", ...p].join("_");
const TEAM_A = key("team", "a");
const TEAM_B = key("team", "b");
const ADMIN = key("admin");

const YAML = (extra = "") =>
  abConfig(
    `  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }`,
    extra,
  );

async function refused(p: Promise<unknown>, code: Code, text: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => ConnectError.from(e),
  );
  assert.equal(err.code, code, err.message);
  assert.match(err.rawMessage, text);
}

const ask = (gw: TestGateway, apiKey: string, u: string) => askAb(gw.url, apiKey, u);

const feedback = (gw: TestGateway, apiKey: string, body: unknown) =>
  fetch(`${gw.url}/v1/feedback`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { status?: string; feedback_ids?: string[]; request_id?: string; error?: { param: string; message: string } },
  }));

describe("feedback (memory store)", () => {
  let gw: TestGateway;
  let a: SignalboxClient;
  let b: SignalboxClient;
  let admin: SignalboxClient;
  const answered: Answered[] = [];
  before(async () => {
    gw = await startTestGateway(YAML());
    a = createSignalboxClient({ baseUrl: gw.url, apiKey: TEAM_A });
    b = createSignalboxClient({ baseUrl: gw.url, apiKey: TEAM_B });
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
    answered.push(...(await askBoth(gw.url, TEAM_A, 12)));
  });
  after(() => gw?.close());

  test("scores by trace id (Portkey's shape) and by request id (Connect) land on the request's variant; the summary compares them", async () => {
    for (const [i, r] of answered.entries()) {
      const value = r.variant === "candidate" ? 1 : -1;
      if (i % 2) {
        const res = await feedback(gw, TEAM_A, { trace_id: r.traceId, value, metadata: JSON.stringify({ _user: `user-${i}` }) });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.status, "success");
        assert.match(res.body.feedback_ids![0]!, /^fb_/);
        assert.equal(res.body.request_id, r.requestId);
      } else {
        const res = await a.usage.submitFeedback({ requestId: r.requestId, value, weight: 0.5, metadata: { comment: "fine" } });
        assert.equal(res.requestId, r.requestId);
      }
    }
    const { rows } = await admin.usage.getFeedbackSummary({ groupBy: [Dimension.VARIANT, Dimension.DEPLOYMENT] });
    const by = new Map(rows.map((r) => [r.group.variant, r]));
    const n = (v: string) => BigInt(answered.filter((x) => x.variant === v).length);
    assert.deepEqual([by.get("candidate")?.count, by.get("candidate")?.positive, by.get("candidate")?.meanValue, by.get("candidate")?.group.deployment], [n("candidate"), n("candidate"), 1, "mock/b"]);
    assert.deepEqual([by.get("control")?.count, by.get("control")?.negative, by.get("control")?.meanValue, by.get("control")?.weightedMeanValue], [n("control"), n("control"), -1, -1]);
  });

  test("scoring a request again replaces its score; weights count in the weighted mean; GetRequest reads it back", async () => {
    const r = answered.find((x) => x.variant === "control")!;
    const before = (await admin.usage.getFeedbackSummary({ groupBy: [Dimension.VARIANT] })).rows.find((x) => x.group.variant === "control")!;
    await a.usage.submitFeedback({ requestId: r.requestId, value: 10, weight: 1 });
    const after = (await admin.usage.getFeedbackSummary({ groupBy: [Dimension.VARIANT] })).rows.find((x) => x.group.variant === "control")!;
    assert.equal(after.count, before.count, "replaced, not added");
    assert.ok(after.meanValue > before.meanValue);
    const got = await a.usage.getRequest({ id: r.requestId });
    assert.deepEqual(got.feedback.map((f) => [f.value, f.weight, f.givenBy]), [[10, 1, "team-a"]], "one score per key, the latest");
    await admin.usage.submitFeedback({ requestId: r.requestId, value: -2, metadata: { comment: "reviewed" } });
    const both = (await admin.usage.getRequest({ id: r.requestId })).feedback;
    assert.deepEqual(both.map((f) => [f.givenBy, f.value, f.metadata.comment ?? ""]), [["admin", -2, "reviewed"], ["team-a", 10, ""]], "newest first");
    await admin.usage.submitFeedback({ requestId: r.requestId, value: 10, weight: 1 });
    const one = await admin.usage.getFeedbackSummary({ filters: [{ dimension: Dimension.VARIANT, values: ["control"] }] });
    assert.equal(one.rows.length, 1);
    assert.equal(one.rows[0]!.count, before.count + 1n, "one more: the admin's own score of it");
  });

  test("PUT /v1/feedback/{id} (Portkey's update) changes a score by its id: its value, and its weight and metadata when given; only by the key that gave it", async () => {
    const r = answered.find((x) => x.variant === "candidate")!;
    const given = await feedback(gw, TEAM_A, { trace_id: r.traceId, value: 2, weight: 0.5, metadata: { comment: "first look" } });
    const id = given.body.feedback_ids![0]!;
    const put = (apiKey: string, body: unknown, fid = id) =>
      fetch(`${gw.url}/v1/feedback/${encodeURIComponent(fid)}`, { method: "PUT", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (x) => ({ status: x.status, body: (await x.json()) as any }));
    const updated = await put(TEAM_A, { value: -3 });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.deepEqual([updated.body.status, updated.body.message, updated.body.feedback_ids], ["success", "feedback updated", [id]]);
    let mine = (await a.usage.getRequest({ id: r.requestId })).feedback.find((f) => f.givenBy === "team-a")!;
    assert.deepEqual([mine.value, mine.weight, mine.metadata.comment], [-3, 0.5, "first look"], "weight and metadata kept");
    assert.equal((await put(TEAM_A, { value: 4, weight: 1, metadata: JSON.stringify({ comment: "on reflection" }) })).status, 200);
    mine = (await a.usage.getRequest({ id: r.requestId })).feedback.find((f) => f.givenBy === "team-a")!;
    assert.deepEqual([mine.value, mine.weight, mine.metadata.comment], [4, 1, "on reflection"]);
    // Another key's score is not found; bad input names its field; POST is not an update.
    assert.equal((await put(TEAM_B, { value: 1 })).status, 404);
    assert.equal((await put(TEAM_A, { value: 1 }, "fb_nope")).body.error.param, "feedback_id");
    const bad = await put(TEAM_A, { value: 99 });
    assert.deepEqual([bad.status, bad.body.error.param], [400, "value"]);
    const wrong = await fetch(`${gw.url}/v1/feedback/${id}`, { method: "POST", headers: { authorization: `Bearer ${TEAM_A}` }, body: "{}" });
    assert.deepEqual([wrong.status, wrong.headers.get("allow")], [405, "PUT"]);
  });

  test("a team key scores and reads its own team's requests only; another team's request is not found", async () => {
    const r = answered[0]!;
    await refused(b.usage.submitFeedback({ requestId: r.requestId, value: 1 }), Code.NotFound, /^request_id: no request "req_.*" that this key may read/);
    const res = await feedback(gw, TEAM_B, { trace_id: r.traceId, value: 1 });
    assert.equal(res.status, 404);
    assert.equal(res.body.error?.param, "trace_id");
    assert.deepEqual((await b.usage.getFeedbackSummary({})).rows, [], "team b has none");
    await refused(b.usage.getFeedbackSummary({ filters: [{ dimension: Dimension.TEAM, values: ["a"] }] }), Code.PermissionDenied, /may only read the usage of its own team/);
    const own = await a.usage.getFeedbackSummary({ groupBy: [Dimension.TEAM] });
    assert.deepEqual(own.rows.map((x) => x.group.team), ["a"]);
  });

  test("bad input is refused naming the field, and nothing is stored", async () => {
    const r = answered[0]!;
    const before = (await admin.usage.getFeedbackSummary({})).rows[0]!.count;
    const cases: [unknown, string, RegExp][] = [
      [{ trace_id: r.traceId, value: 11 }, "value", /integer from -10 to 10/],
      [{ trace_id: r.traceId, value: 0.5 }, "value", /integer from -10 to 10/],
      [{ trace_id: r.traceId }, "value", /integer from -10 to 10/],
      [{ trace_id: r.traceId, value: 1, weight: 2 }, "weight", /from 0 to 1/],
      [{ trace_id: r.traceId, request_id: r.requestId, value: 1 }, "trace_id", /not both/],
      [{ value: 1 }, "trace_id", /give request_id or trace_id/],
      [{ trace_id: r.traceId, value: 1, metadata: "{not json" }, "metadata", /must be an object/],
      [{ trace_id: r.traceId, value: 1, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }, "metadata", /at most 16 entries/],
      [{ trace_id: r.traceId, value: 1, metadata: { n: 1 } }, "metadata.n", /must be a string/],
      [[1, 2], "body", /must be a JSON object/],
    ];
    for (const [body, param, message] of cases) {
      const res = await feedback(gw, TEAM_A, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error?.param, param, JSON.stringify(body));
      assert.match(res.body.error!.message, message);
    }
    await refused(admin.usage.getFeedbackSummary({ groupBy: [Dimension.TAG] }), Code.InvalidArgument, /^group_by\[0\]: feedback is grouped by key, team, user, route, deployment, provider or variant, not tag/);
    await refused(admin.usage.getFeedbackSummary({ startTime: timestampFromMs(Date.now()), endTime: timestampFromMs(Date.now() - 1000) }), Code.InvalidArgument, /^end_time: must be after start_time/);
    const get = await fetch(`${gw.url}/v1/feedback`, { headers: { authorization: `Bearer ${TEAM_A}` } });
    assert.equal(get.status, 405);
    assert.equal((await admin.usage.getFeedbackSummary({})).rows[0]!.count, before);
  });
});

describe("feedback on PostgreSQL, two replicas", () => {
  let rig: Awaited<ReturnType<typeof startPostgresReplicas>>;
  before(async () => {
    rig = await startPostgresReplicas("feedback", (_openai, url) => YAML(`store: { postgres_url: "${url}" }`));
  });
  after(() => rig?.close());

  test("answered on A, scored on B by trace id, summarised on A, and kept across a restart", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const [A, B] = rig.replicas;
    const r = await ask(A, TEAM_A, "pg-user");
    const res = await feedback(B, TEAM_A, { trace_id: r.traceId, value: 7, weight: 0.8, metadata: { comment: "good" } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const summary = async (g: TestGateway) => (await createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN }).usage.getFeedbackSummary({ groupBy: [Dimension.VARIANT, Dimension.KEY] })).rows;
    const rows = await summary(A);
    assert.deepEqual(rows.map((x) => [x.group.variant, x.group.key, x.count, x.meanValue, x.weightedMeanValue]), [[r.variant, "team-a", 1n, 7, 7]]);
    await B.close();
    rig.replicas[1] = await startTestGateway(rig.config);
    assert.deepEqual((await summary(rig.replicas[1])).map((x) => x.count), [1n], "still there after a restart");
    // Updated by its id on the restarted replica (PostgreSQL's feedbackById), read back on A.
    const up = await fetch(`${rig.replicas[1].url}/v1/feedback/${res.body.feedback_ids![0]}`, { method: "PUT", headers: { authorization: `Bearer ${TEAM_A}`, "content-type": "application/json" }, body: JSON.stringify({ value: -1 }) });
    assert.equal(up.status, 200);
    assert.deepEqual((await summary(A)).map((x) => [x.count, x.meanValue, x.weightedMeanValue]), [[1n, -1, -1]]);
  });
});
