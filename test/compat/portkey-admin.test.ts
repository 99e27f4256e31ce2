// Portkey's admin API for API keys and virtual keys through its own SDK (portkey-ai's apiKeys and
// virtualKeys) against the gateway's /v1, over real HTTP: an API key minted there answers at once
// within its rate limit, is updated and deleted (then refused); service keys get a 403, team keys
// their own team; bad input names the field. A virtual key made for an OpenAI-type provider routes
// `x-portkey-virtual-key: <slug>` to a fake OpenAI server with the key it was given, and once
// deleted the header fails cleanly. The provider key never comes back in an answer or a log line.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Portkey } from "portkey-ai";
import { hashKey } from "../../src/server/auth.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = ["sbx", "test", "pkadmin", "admin"].join("_");
const LEAD = ["sbx", "test", "pkadmin", "lead"].join("_");
const SERVICE = ["sbx", "test", "pkadmin", "service"].join("_");
/** Provider credentials given to a virtual key: they must never come back, nor be logged. */
const PROVIDER_SECRET = ["sk", "live", "pk-vk", "do-not-echo", "5e1d07"].join("-");
const ROTATED_SECRET = ["sk", "live", "pk-vk", "rotated", "c44a91"].join("-");

type Failure = Error & { status?: number; error?: { success?: boolean; message?: string; data?: { message?: string } } };

describe("Portkey's admin API: API keys and virtual keys", () => {
  let gw: TestGateway;
  let fake: FakeOpenAI;
  const logs: string[] = [];
  const answers: string[] = [];
  const portkey = (apiKey: string, opts: Record<string, unknown> = {}) => new Portkey({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, ...opts } as ConstructorParameters<typeof Portkey>[0]);
  const admin = () => portkey(ADMIN);
  /** Runs an SDK call that must fail, and gives its error. */
  const failure = async (p: Promise<unknown>): Promise<Failure> => {
    try {
      answers.push(JSON.stringify(await p));
    } catch (err) {
      answers.push(JSON.stringify((err as Failure).error ?? null));
      return err as Failure;
    }
    throw new Error("expected the call to fail");
  };
  const kept = <T>(v: T): T => {
    answers.push(JSON.stringify(v));
    return v;
  };
  const chat = (client: Portkey, model = "default") => client.chat.completions.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hello there" }] } as never) as unknown as Promise<{ choices: { message: { content: string } }[] }>;

  before(async () => {
    setLogSink((line) => logs.push(line));
    fake = await startFakeOpenAI({ apiKey: null });
    gw = await startTestGateway(`${MOCK_CONFIG}
teams: [{ name: search }, { name: ads }]
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: search-lead, hash: "${hashKey(LEAD)}", team: search, role: team }
  - { name: search-svc, hash: "${hashKey(SERVICE)}", team: search, role: service }
`);
  });
  after(async () => {
    await gw?.close();
    await fake?.close();
    setLogSink((line) => process.stdout.write(line));
  });

  test("an API key with a monthly credit limit and an rpm limit answers at once; update; delete refuses it", async () => {
    const created = kept(
      await admin().apiKeys.create({
        type: "workspace",
        "sub-type": "service",
        name: "Indexer Bot",
        description: "nightly indexing",
        workspace_id: "search",
        usage_limits: { credit_limit: 10, periodic_reset: "monthly", alert_threshold: 8 },
        rate_limits: [{ type: "requests", unit: "rpm", value: 2 }],
        scopes: ["logs.view"],
        defaults: { metadata: { env: "prod" }, config_id: "pc-default" },
      }),
    ) as Record<string, any>;
    assert.equal(created.id, "indexer-bot");
    assert.equal(created.object, "api-key");
    const secret: string = created.key;
    assert.match(secret, /^sbk_/);
    assert.deepEqual(created.signalbox.ignored, ["scopes", "defaults.config_id"]);

    // The secret works at once, within its rate limit (2 a minute).
    const app = portkey(secret);
    assert.ok((await chat(app)).choices[0]!.message.content);
    await chat(app);
    assert.equal((await failure(chat(app))).status, 429);

    const got = kept(await admin().apiKeys.retrieve({ id: "indexer-bot" })) as Record<string, any>;
    assert.deepEqual([got.name, got.description, got.type, got.workspace_id, got.status, got.object], ["Indexer Bot", "nightly indexing", "workspace-service", "search", "active", "api-key"]);
    assert.deepEqual(got.usage_limits, { credit_limit: 10, periodic_reset: "monthly", alert_threshold: 8 });
    assert.deepEqual(got.rate_limits, [{ type: "requests", unit: "rpm", value: 2 }]);
    assert.deepEqual(got.defaults, { metadata: { env: "prod" } });
    assert.ok(!JSON.stringify(got).includes(secret), "the secret is shown once, at creation");

    const list = kept(await admin().apiKeys.list({ workspace_id: "search" })) as Record<string, any>;
    assert.equal(list.object, "list");
    assert.ok(list.data.some((k: { id: string }) => k.id === "indexer-bot"));
    assert.ok(!list.data.some((k: { id: string }) => k.id === "search-lead"), "team keys are not API keys here");
    assert.ok(!JSON.stringify(list).includes(secret));

    // Update: a higher rpm and a token limit, a lower credit limit (still monthly), a new name.
    const u = kept(await admin().apiKeys.update({ id: "indexer-bot", name: "Indexer", rate_limits: [{ type: "requests", unit: "rpm", value: 100 }, { type: "tokens", unit: "rpm", value: 5000 }], usage_limits: { credit_limit: 5 } })) as Record<string, any>;
    assert.equal(u.name, "Indexer");
    assert.deepEqual(u.rate_limits, [{ type: "requests", unit: "rpm", value: 100 }, { type: "tokens", unit: "rpm", value: 5000 }]);
    assert.deepEqual([u.usage_limits.credit_limit, u.usage_limits.periodic_reset], [5, "monthly"]);
    await chat(app);

    // Delete: the key is refused at once, and is gone from the API.
    kept(await admin().apiKeys.delete({ id: "indexer-bot" }));
    assert.equal((await failure(chat(app))).status, 401);
    assert.equal((await failure(admin().apiKeys.retrieve({ id: "indexer-bot" }))).status, 404);
    assert.ok(!(kept(await admin().apiKeys.list({})) as any).data.some((k: { id: string }) => k.id === "indexer-bot"));
  });

  test("service keys get a 403; team keys manage their own team's keys only", async () => {
    const svc = await failure(portkey(SERVICE).apiKeys.list({}));
    assert.equal(svc.status, 403);
    assert.equal(svc.error?.success, false);
    assert.match(svc.message, /service key/);
    assert.equal((await failure(portkey(SERVICE).virtualKeys.list())).status, 403);

    const own = kept(await portkey(LEAD).apiKeys.create({ type: "workspace", "sub-type": "service", name: "crawler", scopes: [] })) as Record<string, any>;
    assert.equal((kept(await portkey(LEAD).apiKeys.retrieve({ id: own.id })) as any).workspace_id, "search");
    const other = await failure(portkey(LEAD).apiKeys.create({ type: "workspace", "sub-type": "service", name: "spy", workspace_id: "ads", scopes: [] }));
    assert.equal(other.status, 403);
    assert.match(other.message, /^workspace_id: /);
    // Virtual keys are providers of the whole gateway: an admin key's.
    assert.equal((await failure(portkey(LEAD).virtualKeys.create({ name: "x", provider: "openai", key: PROVIDER_SECRET }))).status, 403);
  });

  test("bad input is a 400 in Portkey's shape naming the field", async () => {
    const base = { type: "workspace", "sub-type": "service", name: "bad", workspace_id: "search", scopes: [] };
    const cases: [Record<string, unknown>, string][] = [
      [{ rate_limits: [{ type: "requests", unit: "rph", value: 5 }] }, "rate_limits[0].unit"],
      [{ rate_limits: [{ type: "requests", unit: "rpm", value: 0 }] }, "rate_limits[0].value"],
      [{ usage_limits: { credit_limit: 10, periodic_reset: "daily" } }, "usage_limits.periodic_reset"],
      [{ usage_limits: { credit_limit: 10, alert_threshold: 12 } }, "usage_limits.alert_threshold"],
      [{ usage_limits: { credit_limit: -1 } }, "usage_limits.credit_limit"],
      [{ workspace_id: "nowhere" }, "workspace_id"],
      [{ name: "" }, "name"],
      [{ expires_at: "soon" }, "expires_at"],
    ];
    for (const [extra, field] of cases) {
      const e = await failure(admin().apiKeys.create({ ...base, ...extra } as never));
      assert.equal(e.status, 400, `${field}: ${e.message}`);
      assert.ok(e.message.startsWith(`${field}: `), `${field}: ${e.message}`);
      assert.equal(e.error?.success, false);
      assert.equal(e.error?.data?.message, e.message);
    }
    const r = await fetch(`${gw.url}/v1/api-keys/team/service`, { method: "POST", headers: { "x-portkey-api-key": ADMIN, "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, /^type: /);
    const vk = await failure(admin().virtualKeys.create({ name: "capped", provider: "openai", key: PROVIDER_SECRET, usage_limits: { credit_limit: 5 } }));
    assert.equal(vk.status, 400);
    assert.match(vk.message, /^usage_limits: /);
    const unknown = await failure(admin().virtualKeys.create({ name: "old", provider: "palm", key: PROVIDER_SECRET }));
    assert.equal(unknown.status, 400);
    assert.match(unknown.message, /^provider: /);
    assert.match((await failure(admin().virtualKeys.create({ name: "nokey", provider: "openai" }))).message, /^key: /);
  });

  test("a virtual key routes x-portkey-virtual-key to its provider with its key; deleted, the header fails cleanly", async () => {
    const created = kept(await admin().virtualKeys.create({ name: "Search OpenAI", provider: "openai", key: PROVIDER_SECRET, custom_host: fake.url, note: "the search team's" })) as Record<string, any>;
    assert.equal(created.slug, "search-openai");
    assert.deepEqual(created.signalbox.ignored, ["note"]);

    // A service key's request names the slug: the fake sees the provider key the virtual key holds.
    const before = fake.requests.length;
    const viaVk = portkey(SERVICE, { virtualKey: "search-openai" });
    assert.ok((await chat(viaVk, "gpt-4o-mini")).choices[0]!.message.content);
    const seen = fake.requests.slice(before).filter((r) => r.path === "/v1/chat/completions");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers.authorization, `Bearer ${PROVIDER_SECRET}`);
    assert.equal(seen[0]!.body.model, "gpt-4o-mini");

    const got = kept(await admin().virtualKeys.retrieve({ slug: "search-openai" })) as Record<string, any>;
    assert.deepEqual([got.slug, got.ai_provider_name, got.status, got.object, got.masked_api_key], ["search-openai", "openai", "active", "virtual-key", "********"]);
    const list = kept(await admin().virtualKeys.list()) as Record<string, any>;
    assert.deepEqual(list.data.map((v: { slug: string }) => v.slug), ["search-openai"]);

    // A new provider key: the next request carries it.
    kept(await admin().virtualKeys.update({ slug: "search-openai", key: ROTATED_SECRET }));
    await chat(viaVk, "gpt-4o-mini");
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${ROTATED_SECRET}`);

    kept(await admin().virtualKeys.delete({ slug: "search-openai" }));
    const gone = await failure(chat(viaVk, "gpt-4o-mini"));
    assert.equal(gone.status, 400);
    assert.match(gone.message, /x-portkey-virtual-key/);
    assert.equal((await failure(admin().virtualKeys.retrieve({ slug: "search-openai" }))).status, 404);
  });

  test("the provider key never appears in an answer or a log line", () => {
    assert.ok(answers.length > 10);
    for (const s of [PROVIDER_SECRET, ROTATED_SECRET]) {
      assert.ok(!answers.some((a) => a.includes(s)), "an answer carried a provider key");
      assert.ok(!logs.some((l) => l.includes(s)), "a log line carried a provider key");
    }
  });
});
