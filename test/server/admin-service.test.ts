// AdminService over a real socket with the in-memory control store: keys and teams managed at run
// time, role checks for every RPC, validation naming fields, rotation, expiry, revocation, the
// audit log, and no secret or hash in anything returned.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createSignalboxClient, KeyRole, SignalboxError, type SignalboxClient, userText } from "@signalbox/client";
import { BudgetPeriod } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = ["admin", "secret", "one"].join("-");
const SEARCH_TEAM = ["search", "team", "secret"].join("-");
const SEARCH_SVC = ["search", "svc", "secret"].join("-");
const ADS_TEAM = ["ads", "team", "secret"].join("-");

const CONFIG = `${MOCK_CONFIG}
teams:
  - name: search
  - name: ads
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: search-lead, hash: "${hashKey(SEARCH_TEAM)}", team: search, role: team }
  - { name: search-svc, hash: "${hashKey(SEARCH_SVC)}", team: search, role: service }
  - { name: ads-lead, hash: "${hashKey(ADS_TEAM)}", team: ads, role: team }
`;

let g: TestGateway;
const as = (apiKey: string): SignalboxClient => createSignalboxClient({ baseUrl: g.url, apiKey });

async function code(p: Promise<unknown>): Promise<{ code: Code; field?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SignalboxError, `expected a SignalboxError, got ${err}`);
    return { code: err.code, field: err.field, message: err.rawMessage };
  }
  assert.fail("expected the call to fail");
}

async function chatOk(apiKey: string): Promise<void> {
  const r = await as(apiKey).chat.complete({ model: "default", messages: [userText("hi")] });
  assert.ok(r.message);
}

before(async () => {
  g = await startTestGateway(CONFIG);
});
after(() => g.close());

describe("keys", () => {
  test("create returns the secret once; the key answers at once; list and get never show it", async () => {
    const admin = as(ADMIN).admin;
    const r = await admin.createKey({ key: { name: "svc-one", team: "search", role: KeyRole.SERVICE, metadata: { owner: "search" } } });
    assert.match(r.secret, /^sbk_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.key?.prefix, r.secret.slice(0, 12));
    assert.ok(r.key?.createTime);
    await chatOk(r.secret);
    const got = await admin.getKey({ name: "svc-one" });
    assert.equal(got.key?.team, "search");
    assert.equal(got.key?.createdBy, "root");
    const listed = await admin.listKeys({ team: "search" });
    const names = listed.keys.map((k) => k.name);
    assert.ok(names.includes("svc-one") && names.includes("search-svc"));
    const text = JSON.stringify([got, listed], (_k, v) => (typeof v === "bigint" ? String(v) : v));
    assert.ok(!text.includes(r.secret) && !text.includes(hashKey(r.secret)) && !text.includes("sha256:"), "no secret or hash in responses");
  });

  test("list paginates by name", async () => {
    const admin = as(ADMIN).admin;
    for (let i = 0; i < 5; i++) await admin.createKey({ key: { name: `page-${i}`, team: "ads", role: KeyRole.SERVICE } });
    const seen: string[] = [];
    let token = "";
    do {
      const p = await admin.listKeys({ team: "ads", pageSize: 2, pageToken: token });
      assert.ok(p.keys.length <= 2);
      seen.push(...p.keys.map((k) => k.name));
      token = p.nextPageToken;
    } while (token);
    assert.deepEqual(seen, [...seen].sort());
    assert.ok(["page-0", "page-1", "page-2", "page-3", "page-4", "ads-lead"].every((n) => seen.includes(n)));
  });

  test("update changes limits and allow list; the next request follows them", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "limited", team: "search", role: KeyRole.SERVICE } });
    await admin.updateKey({ key: { name: "limited", allow: ["fast"] }, updateMask: { paths: ["allow"] } });
    const refused = await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }));
    assert.equal(refused.code, Code.PermissionDenied);
    await as(secret).chat.complete({ model: "fast", messages: [userText("x")] });
    await admin.updateKey({ key: { name: "limited", limits: { requestsPerMinute: 1 } }, updateMask: { paths: ["limits", "allow"] } });
    await as(secret).chat.complete({ model: "default", messages: [userText("x")] });
    const limited = await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }));
    assert.equal(limited.code, Code.ResourceExhausted);
  });

  test("a budget per end user set at run time: one user past it is refused, the others and user-less requests go on; update clears it; bad input names the field", async () => {
    const admin = as(ADMIN).admin;
    const { secret, key } = await admin.createKey({ key: { name: "per-user", team: "search", role: KeyRole.SERVICE, perUserBudget: { period: BudgetPeriod.DAY, limitUsd: 0.000001 } } });
    assert.deepEqual([key?.perUserBudget?.period, key?.perUserBudget?.limitUsd, key?.perUserBudget?.softThreshold], [BudgetPeriod.DAY, 0.000001, 0.8]);
    const ask = (user?: string) => as(secret).chat.complete({ model: "default", messages: [userText("hello there")], ...(user ? { user } : {}) });
    const e = await code(ask("dana"));
    assert.equal(e.code, Code.ResourceExhausted);
    assert.match(e.message, /budget exhausted: daily budget of user "dana" of key "per-user"/);
    await ask(); // no user: the key has no budget of its own
    const b = await as(secret).usage.getBudget({ user: "dana" });
    assert.deepEqual(b.budgets.map((x) => x.name), ["per-user:dana"]);
    const bad = await code(admin.updateKey({ key: { name: "per-user", perUserBudget: { period: BudgetPeriod.DAY, limitUsd: -1 } }, updateMask: { paths: ["per_user_budget"] } }));
    assert.deepEqual([bad.code, bad.field], [Code.InvalidArgument, "key.per_user_budget.limit_usd"]);
    const cleared = await admin.updateKey({ key: { name: "per-user" }, updateMask: { paths: ["per_user_budget"] } });
    assert.equal(cleared.key?.perUserBudget, undefined);
    await ask("dana");
  });

  test("revoke refuses the key at once; it stays listed as revoked", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "to-revoke", team: "search", role: KeyRole.SERVICE } });
    await chatOk(secret);
    const r = await admin.revokeKey({ name: "to-revoke" });
    assert.ok(r.key?.revokeTime);
    assert.equal((await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }))).code, Code.Unauthenticated);
    const listed = await admin.listKeys({ team: "search" });
    assert.ok(!listed.keys.some((k) => k.name === "to-revoke"), "revoked keys hidden by default");
    const all = await admin.listKeys({ team: "search", includeRevoked: true });
    assert.ok(all.keys.some((k) => k.name === "to-revoke" && k.revokeTime));
  });

  test("block refuses the key at once and unblock lets it call again; both idempotent, audited; a key may not block itself; a revoked key cannot be", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "to-block", team: "search", role: KeyRole.SERVICE } });
    await chatOk(secret);
    const b = await admin.blockKey({ name: "to-block" });
    assert.ok(b.key?.blockTime, "block_time is set");
    const refused = await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }));
    assert.equal(refused.code, Code.Unauthenticated);
    assert.match(refused.message, /API key "to-block" is blocked/);
    assert.ok(!refused.message.includes(secret), "the secret is never echoed");
    assert.equal((await admin.blockKey({ name: "to-block" })).key?.blockTime?.seconds, b.key!.blockTime!.seconds, "blocking again changes nothing");
    assert.ok((await admin.listKeys({ team: "search" })).keys.some((k) => k.name === "to-block" && k.blockTime), "a blocked key stays listed, marked");
    const u = await admin.unblockKey({ name: "to-block" });
    assert.equal(u.key?.blockTime, undefined);
    await chatOk(secret);
    await admin.unblockKey({ name: "to-block" });
    const events = (await admin.listAuditEvents({ target: "key:to-block" })).events.map((e) => e.action);
    assert.deepEqual(events.filter((a) => a.startsWith("key.")).sort(), ["key.block", "key.create", "key.unblock"]);
    const { secret: admin2 } = await admin.createKey({ key: { name: "second-admin", team: "platform", role: KeyRole.ADMIN } });
    const self = await code(as(admin2).admin.blockKey({ name: "second-admin" }));
    assert.equal(self.code, Code.FailedPrecondition);
    assert.match(self.message, /may not block itself/);
    await admin.revokeKey({ name: "to-block" });
    assert.equal((await code(admin.blockKey({ name: "to-block" }))).code, Code.FailedPrecondition);
    assert.equal((await code(admin.blockKey({ name: "no-such-key" }))).code, Code.NotFound);
    assert.equal((await code(admin.blockKey({ name: "" }))).code, Code.InvalidArgument);
  });

  test("rotate: the old secret works through the grace period, then stops; the new one works", async () => {
    const admin = as(ADMIN).admin;
    const { secret: old } = await admin.createKey({ key: { name: "rotating", team: "search", role: KeyRole.SERVICE } });
    const r = await admin.rotateKey({ name: "rotating", graceSeconds: 1 });
    assert.notEqual(r.secret, old);
    assert.ok(r.key?.previousSecretExpireTime);
    await chatOk(old);
    await chatOk(r.secret);
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await code(as(old).chat.complete({ model: "default", messages: [userText("x")] }))).code, Code.Unauthenticated);
    await chatOk(r.secret);
    const now = await admin.rotateKey({ name: "rotating", graceSeconds: 0 });
    assert.equal((await code(as(r.secret).chat.complete({ model: "default", messages: [userText("x")] }))).code, Code.Unauthenticated);
    await chatOk(now.secret);
  });

  test("expiry: a key stops at its expire_time", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "short-lived", team: "search", role: KeyRole.SERVICE, expireTime: timestampFromMs(Date.now() + 700) } });
    await chatOk(secret);
    await new Promise((res) => setTimeout(res, 800));
    const e = await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }));
    assert.equal(e.code, Code.Unauthenticated);
    assert.match(e.message, /expired/);
  });

  test("bad input names the field and changes nothing", async () => {
    const admin = as(ADMIN).admin;
    const cases: [Promise<unknown>, string][] = [
      [admin.createKey({ key: { name: "Bad Name", team: "search", role: KeyRole.SERVICE } }), "key.name"],
      [admin.createKey({ key: { name: "x1", team: "search" } }), "key.role"],
      [admin.createKey({ key: { name: "x2", team: "nope", role: KeyRole.SERVICE } }), "key.team"],
      [admin.createKey({ key: { name: "x3", team: "search", role: KeyRole.SERVICE, allow: ["fast", "no-such-route"] } }), "key.allow[1]"],
      [admin.createKey({ key: { name: "x4", team: "search", role: KeyRole.SERVICE, expireTime: timestampFromMs(Date.now() - 1000) } }), "key.expire_time"],
      [admin.createKey({ key: { name: "x5", team: "search", role: KeyRole.SERVICE, limits: { requestsPerMinute: 0 } } }), "key.limits.requests_per_minute"],
      [admin.createKey({ key: { name: "x6", team: "search", role: KeyRole.SERVICE, budget: { period: BudgetPeriod.DAY, limitUsd: -1 } } }), "key.budget.limit_usd"],
      [admin.createKey({ key: { name: "x7", team: "search", role: KeyRole.SERVICE, budget: { limitUsd: 1 } } }), "key.budget.period"],
      [admin.updateKey({ key: { name: "svc-one" }, updateMask: { paths: ["hash"] } }), "update_mask"],
      [admin.updateKey({ key: { name: "svc-one" } }), "update_mask"],
      [admin.rotateKey({ name: "svc-one", graceSeconds: 31 * 86_400 }), "grace_seconds"],
      [admin.listKeys({ pageSize: 501 }), "page_size"],
      [admin.createTeam({ team: { name: "t", budget: { period: BudgetPeriod.MONTH, limitUsd: 10, softThreshold: 2 } } }), "team.budget.soft_threshold"],
    ];
    for (const [p, field] of cases) {
      const e = await code(p);
      assert.equal(e.code, Code.InvalidArgument, `${field}: ${e.message}`);
      assert.equal(e.field, field, e.message);
    }
    for (const n of ["x1", "x2", "x3", "x4", "x5", "x6", "x7"]) assert.equal((await code(admin.getKey({ name: n }))).code, Code.NotFound);
    const dup = await code(admin.createKey({ key: { name: "svc-one", team: "search", role: KeyRole.SERVICE } }));
    assert.equal(dup.code, Code.AlreadyExists);
    const cfg = await code(admin.createKey({ key: { name: "root", team: "search", role: KeyRole.SERVICE } }));
    assert.equal(cfg.code, Code.AlreadyExists);
  });

  test("keys from the config file are listed but read-only", async () => {
    const admin = as(ADMIN).admin;
    const k = await admin.getKey({ name: "search-svc" });
    assert.equal(k.key?.source, 1 /* SOURCE_CONFIG */);
    for (const p of [admin.revokeKey({ name: "search-svc" }), admin.rotateKey({ name: "search-svc" }), admin.updateKey({ key: { name: "search-svc", allow: [] }, updateMask: { paths: ["allow"] } })]) {
      const e = await code(p);
      assert.equal(e.code, Code.FailedPrecondition);
      assert.match(e.message, /config file/);
    }
  });
});

describe("teams", () => {
  test("create, update, list, delete (refused while it has keys)", async () => {
    const admin = as(ADMIN).admin;
    const t = await admin.createTeam({ team: { name: "billing", budget: { period: BudgetPeriod.MONTH, limitUsd: 50 }, defaultKeyLimits: { requestsPerMinute: 1 } } });
    assert.equal(t.team?.budget?.limitUsd, 50);
    const { secret } = await admin.createKey({ key: { name: "billing-svc", team: "billing", role: KeyRole.SERVICE } });
    // The team's default limits apply to a key with none of its own.
    await chatOk(secret);
    assert.equal((await code(as(secret).chat.complete({ model: "default", messages: [userText("x")] }))).code, Code.ResourceExhausted);
    const listed = await admin.listTeams({});
    const billing = listed.teams.find((x) => x.name === "billing");
    assert.equal(billing?.keyCount, 1);
    assert.equal((await code(admin.deleteTeam({ name: "billing" }))).code, Code.FailedPrecondition);
    await admin.createTeam({ team: { name: "empty" } });
    await admin.deleteTeam({ name: "empty" });
    assert.ok(!(await admin.listTeams({})).teams.some((x) => x.name === "empty"));
    const up = await admin.updateTeam({ team: { name: "billing", budget: { period: BudgetPeriod.MONTH, limitUsd: 80 } }, updateMask: { paths: ["budget"] } });
    assert.equal(up.team?.budget?.limitUsd, 80);
  });

  test("a team budget set at run time is enforced", async () => {
    const admin = as(ADMIN).admin;
    await admin.createTeam({ team: { name: "tight", budget: { period: BudgetPeriod.DAY, limitUsd: 0.000001 } } });
    const { secret } = await admin.createKey({ key: { name: "tight-svc", team: "tight", role: KeyRole.SERVICE } });
    const e = await code(as(secret).chat.complete({ model: "default", messages: [userText("hello there")] }));
    assert.equal(e.code, Code.ResourceExhausted);
    assert.match(e.message, /budget/);
    await admin.updateTeam({ team: { name: "tight", budget: { period: BudgetPeriod.DAY, limitUsd: 100 } }, updateMask: { paths: ["budget"] } });
    await chatOk(secret);
  });
});

describe("roles", () => {
  test("every RPC: admin yes; team only its own team and never admin keys or its own budget up; service nothing", async () => {
    const team = as(SEARCH_TEAM).admin;
    const other = as(ADS_TEAM).admin;
    const svc = as(SEARCH_SVC).admin;
    await as(ADMIN).admin.createTeam({ team: { name: "roles", budget: { period: BudgetPeriod.MONTH, limitUsd: 5 } } });

    // team key, own team
    const mine = await team.createKey({ key: { name: "search-made", team: "search", role: KeyRole.SERVICE } });
    await chatOk(mine.secret);
    assert.ok((await team.listKeys({})).keys.every((k) => k.team === "search"));
    await team.getKey({ name: "search-made" });
    await team.updateKey({ key: { name: "search-made", metadata: { a: "b" } }, updateMask: { paths: ["metadata"] } });
    await team.rotateKey({ name: "search-made" });
    await team.revokeKey({ name: "search-made" });
    assert.deepEqual((await team.listTeams({})).teams.map((t) => t.name), ["search"]);

    // team key, other team / escalation
    const denied = Code.PermissionDenied;
    assert.equal((await code(team.createKey({ key: { name: "x-ads", team: "ads", role: KeyRole.SERVICE } }))).code, denied);
    assert.equal((await code(team.createKey({ key: { name: "x-admin", team: "search", role: KeyRole.ADMIN } }))).code, denied);
    assert.equal((await code(team.listKeys({ team: "ads" }))).code, denied);
    assert.equal((await code(other.getKey({ name: "svc-one" }))).code, Code.NotFound, "another team's key is not revealed");
    assert.equal((await code(other.revokeKey({ name: "svc-one" }))).code, Code.NotFound);
    assert.equal((await code(other.rotateKey({ name: "svc-one" }))).code, Code.NotFound);
    assert.equal((await code(other.updateKey({ key: { name: "svc-one", allow: [] }, updateMask: { paths: ["allow"] } }))).code, Code.NotFound);
    assert.equal((await code(team.createTeam({ team: { name: "mine" } }))).code, denied);
    assert.equal((await code(team.deleteTeam({ name: "search" }))).code, denied);
    assert.equal((await code(team.reloadConfig({}))).code, denied);
    assert.equal((await code(team.listAuditEvents({}))).code, denied);

    // Who am I: any key may ask.
    const me = await as(SEARCH_SVC).admin.getCaller({});
    assert.deepEqual([me.key, me.team, me.role, me.authEnabled], ["search-svc", "search", KeyRole.SERVICE, true]);

    // service key: nothing
    for (const p of [
      svc.createKey({ key: { name: "s1", team: "search", role: KeyRole.SERVICE } }),
      svc.listKeys({}),
      svc.getKey({ name: "search-svc" }),
      svc.updateKey({ key: { name: "svc-one" }, updateMask: { paths: ["allow"] } }),
      svc.revokeKey({ name: "svc-one" }),
      svc.rotateKey({ name: "svc-one" }),
      svc.createTeam({ team: { name: "s" } }),
      svc.updateTeam({ team: { name: "search" }, updateMask: { paths: ["metadata"] } }),
      svc.listTeams({}),
      svc.deleteTeam({ name: "search" }),
      svc.reloadConfig({}),
      svc.listAuditEvents({}),
    ]) {
      const e = await code(p);
      assert.ok(e.code === denied || e.code === Code.NotFound || e.code === Code.FailedPrecondition, `service key: ${Code[e.code]} ${e.message}`);
    }
  });

  test("a team key may lower but not raise its own team's budget", async () => {
    const admin = as(ADMIN).admin;
    await admin.createTeam({ team: { name: "frugal", budget: { period: BudgetPeriod.MONTH, limitUsd: 10 } } });
    const { secret } = await admin.createKey({ key: { name: "frugal-lead", team: "frugal", role: KeyRole.TEAM } });
    const lead = as(secret).admin;
    await lead.updateTeam({ team: { name: "frugal", budget: { period: BudgetPeriod.MONTH, limitUsd: 5 } }, updateMask: { paths: ["budget"] } });
    const up = await code(lead.updateTeam({ team: { name: "frugal", budget: { period: BudgetPeriod.MONTH, limitUsd: 6 } }, updateMask: { paths: ["budget"] } }));
    assert.equal(up.code, Code.PermissionDenied);
    assert.equal(up.field, "team.budget");
    const removed = await code(lead.updateTeam({ team: { name: "frugal" }, updateMask: { paths: ["budget"] } }));
    assert.equal(removed.code, Code.PermissionDenied, "removing the budget raises it");
    const daily = await code(lead.updateTeam({ team: { name: "frugal", budget: { period: BudgetPeriod.DAY, limitUsd: 5 } }, updateMask: { paths: ["budget"] } }));
    assert.equal(daily.code, Code.PermissionDenied, "the same amount per day is more per month");
  });
});

describe("end users", () => {
  test("a team's end user gets a budget and limits of their own across all its keys; others and other teams' users are not held", async () => {
    const admin = as(ADMIN).admin;
    const { secret: k1 } = await admin.createKey({ key: { name: "eu-one", team: "search", role: KeyRole.SERVICE } });
    const { secret: k2 } = await admin.createKey({ key: { name: "eu-two", team: "search", role: KeyRole.SERVICE } });
    const { secret: ads } = await admin.createKey({ key: { name: "eu-ads", team: "ads", role: KeyRole.SERVICE } });
    const ask = (key: string, user?: string) => as(key).chat.complete({ model: "default", messages: [userText("hello there")], ...(user ? { user } : {}) });
    // A team key manages its own team's end users; the team is the caller's when left out.
    const made = await as(SEARCH_TEAM).admin.createEndUser({ endUser: { user: "erin", limits: { requestsPerMinute: 2 }, metadata: { plan: "free" } } });
    assert.deepEqual([made.endUser?.team, made.endUser?.user, made.endUser?.limits?.requestsPerMinute, made.endUser?.blocked, made.endUser?.createdBy], ["search", "erin", 2, false, "search-lead"]);
    await ask(k1, "erin");
    await ask(k2, "erin"); // the second of the minute, through another key of the team
    const e = await code(ask(k1, "erin"));
    assert.equal(e.code, Code.ResourceExhausted);
    assert.match(e.message, /end user "erin" of team "search"/);
    await ask(k1, "frank"); // another user of the team
    await ask(k1); // no user
    await ask(ads, "erin"); // the same name in another team is another user
    // A budget of their own: refused once it is spent, and GetBudget shows it.
    await admin.updateEndUser({ endUser: { team: "search", user: "erin", budget: { period: BudgetPeriod.DAY, limitUsd: 0.000001 } }, updateMask: { paths: ["budget", "limits"] } });
    const spent = await code(ask(k2, "erin"));
    assert.equal(spent.code, Code.ResourceExhausted);
    assert.match(spent.message, /budget exhausted: daily budget of end user "erin" of team "search"/);
    const b = await as(k2).usage.getBudget({ user: "erin" });
    assert.deepEqual(b.budgets.map((x) => x.name), ["@search:erin"]);
    await admin.deleteEndUser({ team: "search", user: "erin" });
    await ask(k2, "erin"); // held to the key's rules only again
    assert.equal((await code(admin.getEndUser({ team: "search", user: "erin" }))).code, Code.NotFound);
  });

  test("a blocked end user is refused (403) on every door until unblocked; audited as block and unblock", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "eu-block", team: "search", role: KeyRole.SERVICE } });
    await admin.createEndUser({ endUser: { team: "search", user: "mallory@example.com", blocked: true } });
    const e = await code(as(secret).chat.complete({ model: "default", messages: [userText("x")], user: "mallory@example.com" }));
    assert.equal(e.code, Code.PermissionDenied);
    assert.equal(e.field, "user");
    assert.match(e.message, /end user "mallory@example.com" is blocked/);
    const http = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "x" }], user: "mallory@example.com" }),
    });
    assert.equal(http.status, 403);
    assert.match(((await http.json()) as { error: { message: string } }).error.message, /is blocked/);
    const got = await admin.getEndUser({ team: "search", user: "mallory@example.com" });
    assert.ok(got.endUser?.blocked && got.endUser.blockTime);
    await admin.updateEndUser({ endUser: { team: "search", user: "mallory@example.com", blocked: false }, updateMask: { paths: ["blocked"] } });
    await as(secret).chat.complete({ model: "default", messages: [userText("x")], user: "mallory@example.com" });
    await admin.updateEndUser({ endUser: { team: "search", user: "mallory@example.com", blocked: true }, updateMask: { paths: ["blocked"] } });
    const actions = (await admin.listAuditEvents({ target: "end_user:search:mallory@example.com" })).events.map((x) => x.action);
    assert.deepEqual(actions, ["end_user.block", "end_user.unblock", "end_user.create"]);
  });

  test("who may manage whom, listing by team then user, bad input naming the field, and a team with end users is not deleted", async () => {
    const admin = as(ADMIN).admin;
    await admin.createTeam({ team: { name: "eu-team" } });
    for (const user of ["zed", "amy", "bob"]) await admin.createEndUser({ endUser: { team: "eu-team", user } });
    await as(ADS_TEAM).admin.createEndUser({ endUser: { user: "amy" } });
    const first = await admin.listEndUsers({ team: "eu-team", pageSize: 2 });
    assert.deepEqual(first.endUsers.map((u) => u.user), ["amy", "bob"]);
    const second = await admin.listEndUsers({ team: "eu-team", pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual([second.endUsers.map((u) => u.user), second.nextPageToken], [["zed"], ""]);
    assert.deepEqual((await as(ADS_TEAM).admin.listEndUsers({})).endUsers.map((u) => `${u.team}/${u.user}`), ["ads/amy"], "a team key lists its own team's");
    // Another team's end users are not revealed to a team key; a service key manages none.
    assert.equal((await code(as(ADS_TEAM).admin.getEndUser({ team: "eu-team", user: "amy" }))).code, Code.NotFound);
    assert.equal((await code(as(ADS_TEAM).admin.createEndUser({ endUser: { team: "search", user: "x" } }))).code, Code.NotFound);
    assert.equal((await code(as(ADS_TEAM).admin.listEndUsers({ team: "search" }))).code, Code.NotFound);
    assert.equal((await code(as(SEARCH_SVC).admin.createEndUser({ endUser: { user: "x" } }))).code, Code.PermissionDenied);
    // Bad input names the field and nothing is made.
    const cases: [Promise<unknown>, string][] = [
      [admin.createEndUser({ endUser: { team: "eu-team", user: "" } }), "end_user.user"],
      [admin.createEndUser({ endUser: { team: "eu-team", user: "x".repeat(257) } }), "end_user.user"],
      [admin.createEndUser({ endUser: { team: "eu-team", user: "tab\there" } }), "end_user.user"],
      [admin.createEndUser({ endUser: { team: "no-such-team", user: "x" } }), "end_user.team"],
      [admin.createEndUser({ endUser: { team: "eu-team", user: "x", budget: { period: BudgetPeriod.DAY, limitUsd: 0 } } }), "end_user.budget.limit_usd"],
      [admin.createEndUser({ endUser: { team: "eu-team", user: "x", limits: { requestsPerMinute: 0 } } }), "end_user.limits.requests_per_minute"],
      [admin.updateEndUser({ endUser: { team: "eu-team", user: "amy" }, updateMask: { paths: ["team"] } }), "update_mask"],
    ];
    for (const [p, field] of cases) {
      const e = await code(p);
      assert.deepEqual([e.code, e.field], [Code.InvalidArgument, field], e.message);
    }
    assert.equal((await code(admin.createEndUser({ endUser: { team: "eu-team", user: "amy" } }))).code, Code.AlreadyExists);
    assert.equal((await admin.listEndUsers({ team: "eu-team" })).endUsers.length, 3);
    const del = await code(admin.deleteTeam({ name: "eu-team" }));
    assert.equal(del.code, Code.FailedPrecondition);
    assert.match(del.message, /3 end users/);
    for (const user of ["zed", "amy", "bob"]) await admin.deleteEndUser({ team: "eu-team", user });
    await admin.deleteTeam({ name: "eu-team" });
  });
});

describe("audit", () => {
  test("every change is recorded with actor, target, before and after, and no secret", async () => {
    const admin = as(ADMIN).admin;
    const { secret } = await admin.createKey({ key: { name: "audited", team: "search", role: KeyRole.SERVICE } });
    await admin.updateKey({ key: { name: "audited", maxOutputTokens: 100 }, updateMask: { paths: ["max_output_tokens"] } });
    const rotated = await admin.rotateKey({ name: "audited", graceSeconds: 60 });
    await admin.revokeKey({ name: "audited" });
    const r = await admin.listAuditEvents({ target: "key:audited" });
    assert.deepEqual(
      r.events.map((e) => e.action),
      ["key.revoke", "key.rotate", "key.update", "key.create"],
    );
    const upd = r.events.find((e) => e.action === "key.update")!;
    assert.equal(upd.actor, "root");
    assert.equal(upd.before?.max_output_tokens, undefined);
    assert.equal(upd.after?.max_output_tokens, 100);
    assert.ok(upd.replica && upd.time);
    const text = JSON.stringify(r.events, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    for (const s of [secret, rotated.secret, hashKey(secret), hashKey(rotated.secret), "sha256:"]) assert.ok(!text.includes(s));
    const byActor = await admin.listAuditEvents({ actor: "search-lead" });
    assert.ok(byActor.events.length > 0 && byActor.events.every((e) => e.actor === "search-lead"));
    const page1 = await admin.listAuditEvents({ pageSize: 2 });
    assert.equal(page1.events.length, 2);
    const page2 = await admin.listAuditEvents({ pageSize: 2, pageToken: page1.nextPageToken });
    assert.ok(page2.events.length > 0 && Number(page2.events[0].id) < Number(page1.events[1].id));
    const future = await admin.listAuditEvents({ startTime: timestampFromMs(Date.now() + 60_000) });
    assert.equal(future.events.length, 0);
  });
});

describe("auth off (the embedded default)", () => {
  test("anyone may bootstrap the first admin key, which turns auth on; a first key of another role is refused", async () => {
    const open = await startTestGateway(MOCK_CONFIG);
    try {
      const anon = createSignalboxClient({ baseUrl: open.url }).admin;
      await anon.createTeam({ team: { name: "platform" } });
      // A first key that is not an admin would lock everyone out of key management: refused, and auth stays off.
      const locked = await code(anon.createKey({ key: { name: "first-service", team: "platform", role: KeyRole.SERVICE } }));
      assert.deepEqual([locked.code, locked.field], [Code.InvalidArgument, "key.role"]);
      assert.match(locked.message, /the first key turns auth on: make it an admin key/);
      await createSignalboxClient({ baseUrl: open.url }).chat.complete({ model: "default", messages: [userText("still open")] });
      const { secret } = await anon.createKey({ key: { name: "first-admin", team: "platform", role: KeyRole.ADMIN } });
      assert.equal((await code(createSignalboxClient({ baseUrl: open.url }).chat.complete({ model: "default", messages: [userText("x")] }))).code, Code.Unauthenticated);
      const admin = createSignalboxClient({ baseUrl: open.url, apiKey: secret });
      await admin.chat.complete({ model: "default", messages: [userText("x")] });
      assert.equal((await code(anon.listKeys({}))).code, Code.Unauthenticated);
    } finally {
      await open.close();
    }
  });
});
