// `signalbox route explain` and `signalbox models`: RouteService, which never calls a provider;
// `signalbox models check`: AdminService.CheckDeployments, which sends each deployment a minimal
// real request.

import { toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import {
  CheckDeploymentsResponseSchema,
  DeploymentHealth_State,
  DeploymentHealth_StateSchema,
  ExclusionReasonSchema,
  FailureKindSchema,
  ListModelsResponseSchema,
  RouteResponseSchema,
  TaskSchema,
  userText,
  type AliasInfo,
  type Candidate,
  type DeploymentCheck,
  type DeploymentInfo,
  type Exclusion,
  type RouteInfo,
  type SpendCap,
} from "@signalbox/client";
import { CliError, EXIT, setup, traceLink } from "../context.ts";
import { ago, count, dollars, enumLabel, enumValue, listOf, ms, perMtok, time, usd } from "../format.ts";
import { type Column, csv, fields, json, note, out, section, table, waiting } from "../output.ts";
import { parseChoice, parseCount, parseList } from "../parse.ts";
import { type ProviderFlags, providerFlags, providerPreferences } from "../request.ts";

/** "tier=pro" → { tier: "pro" }; a value without "=" is bad usage. */
function parsePair(v: string): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got "${v}"`);
  return { [v.slice(0, i).trim()]: v.slice(i + 1).trim() };
}

// The gateway's limits of a check (AdminService.CheckDeployments).
const DEFAULT_CHECK_TIMEOUT_MS = 20_000;
const MAX_CHECK_TIMEOUT_MS = 120_000;

const TASKS = ["coding", "reasoning", "creative", "simple", "multimodal"] as const;

export function routeCommands(program: Command): void {
  const route = program.command("route").description("where requests go, and why");
  providerFlags(route
    .command("explain"))
    .description("the plan the router would follow for a request right now (no provider is called)")
    .requiredOption("--model <model>", "a route, alias or deployment id")
    .requiredOption("--prompt <text>", "the user message")
    .option("--task <task>", `a task hint for task, complexity and hybrid routing: ${TASKS.join(", ")}`, parseChoice(TASKS))
    .option("--sticky-key <key>", "the key for sticky A/B assignment")
    .option("--user <user>", "the end user the request is made for")
    .option("--tag <tags>", "tags, comma-separated (what a route's conditions may test)", parseList)
    .option("--metadata <key=value>", "metadata entries, repeatable (what a route's conditions may test)", (v: string, acc: Record<string, string> = {}) => ({ ...acc, ...parsePair(v) }))
    .addHelpText("after", '\nExamples:\n  signalbox route explain --model default --prompt "Write a binary search in Go" --task coding\n  signalbox route explain --model chat --prompt "hi" --metadata tier=pro --tag beta\n  signalbox route explain --model chat --prompt "hi" --sort-providers price --ignore-providers openai')
    .action(async (o: { model: string; prompt: string; task?: string; stickyKey?: string; user?: string; tag?: string[]; metadata?: Record<string, string> } & ProviderFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("planning", () =>
        sb.route.route({
          model: o.model,
          messages: [userText(o.prompt)],
          user: o.user ?? "",
          tags: o.tag ?? [],
          metadata: o.metadata ?? {},
          routing: { task: o.task ? enumValue(TaskSchema, o.task) : 0, stickyKey: o.stickyKey ?? "", providers: providerPreferences(o) },
        }),
      );
      if (mode === "json") return json(toJson(RouteResponseSchema, res));
      const ri = res.routing;
      const head = fields([
        ["MODEL", o.model + (ri?.alias ? ` (alias ${ri.alias})` : "")],
        ["ROUTE", ri?.route || "(a deployment, named directly)"],
        ["STRATEGY", ri?.strategy ?? ""],
        ["VARIANT", ri?.variant ?? ""],
        ["INPUT TOKENS", `${count(res.estimatedInputTokens)} (estimated)`],
        ["MAX ATTEMPTS", res.maxAttempts ? String(res.maxAttempts) : ""],
        ["HEDGE AFTER", res.hedgeAfterMs ? ms(res.hedgeAfterMs) : ""],
        ["FALLBACKS", res.noFallback ? "off (only the first candidate is tried)" : ""],
        ["ADJUSTMENTS", res.adjustments.map((a) => `${a.field}: ${a.detail}`).join("; ")],
      ]);
      const cand: Column<Candidate>[] = [
        { header: "#", show: (c) => String(c.position), right: true },
        { header: "deployment", show: (c) => c.deployment },
        { header: "provider", show: (c) => c.provider },
        { header: "source", show: (c) => c.source },
        { header: "expected cost", show: (c) => `$${usd(c.expectedCostNanoUsd)}`, right: true },
        { header: "reason", show: (c) => c.reason },
      ];
      const excl: Column<Exclusion>[] = [
        { header: "deployment", show: (e) => e.deployment },
        { header: "why", show: (e) => enumLabel(ExclusionReasonSchema, e.reason) },
        { header: "until", show: (e) => time(e.until) },
        { header: "detail", show: (e) => e.detail },
      ];
      await out(
        `${head}\n${section("CANDIDATES (in the order they would be tried)")}${res.candidates.length ? table(cand, res.candidates) : "none: nothing can serve this request now\n"}` +
          (res.excluded.length ? `\n${section("EXCLUDED")}${table(excl, res.excluded)}` : ""),
      );
    });

  const models = program
    .command("models")
    .description("deployments (provider, prices, context window, health, spending caps, last check), routes and aliases; `models check` checks them")
    .addHelpText(
      "after",
      [
        "",
        "--csv prints the deployments table. BUDGET is each spending cap on the deployment (its own",
        "`budget`, or its provider's, marked provider:): spent of the limit in the current period (day,",
        "week or month, UTC), and OVER once reached (routing leaves the deployment out until the period",
        "resets); - when it has none. CHECKED is each deployment's latest check (`signalbox models",
        "check`, or the gateway's background health_checks): ok and its latency, FAILED and its code, or",
        "skipped; - when it was never checked.",
      ].join("\n"),
    )
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing models", () => sb.route.listModels({}));
      if (mode === "json") return json(toJson(ListModelsResponseSchema, res));
      const deps: Column<DeploymentInfo>[] = [
        { header: "id", show: (d) => d.id },
        { header: "provider", show: (d) => `${d.provider} (${d.providerType})`, raw: (d) => d.provider },
        { header: "model", show: (d) => d.model },
        { header: "$in/Mtok", csv: "input_usd_per_mtok", show: (d) => perMtok(d.pricing?.inputMicroUsdPerMtok), right: true },
        { header: "$out/Mtok", csv: "output_usd_per_mtok", show: (d) => perMtok(d.pricing?.outputMicroUsdPerMtok), right: true },
        { header: "context", csv: "context_window", show: (d) => (d.contextWindow ? count(d.contextWindow) : ""), raw: (d) => d.contextWindow, right: true },
        { header: "health", show: health, raw: (d) => enumLabel(DeploymentHealth_StateSchema, d.health?.state ?? 0) },
        { header: "ttft", csv: "ttft_ms", show: (d) => ms(d.health?.ttftMs), raw: (d) => d.health?.ttftMs?.toFixed(1) ?? "", right: true },
        { header: "budget", show: (d) => spendCaps(d.spendCaps) || "-", raw: (d) => spendCaps(d.spendCaps) },
        { header: "checked", show: (d) => lastCheck(d.health?.lastCheck), raw: (d) => (d.health?.lastCheck ? result(d.health.lastCheck) : "") },
      ];
      if (mode === "csv") return out(csv(deps, res.deployments));
      const routes: Column<RouteInfo>[] = [
        { header: "name", show: (r) => r.name },
        { header: "strategy", show: (r) => r.strategy },
        {
          header: "targets",
          show: (r) =>
            r.variants.length
              ? r.variants.map((v) => `${v.name} ${v.weight}: ${v.targets.map((t) => t.deployment).join(" ")}`).join("; ")
              : r.targets.map((t) => (r.strategy === "weighted" ? `${t.deployment} (${t.weight})` : t.deployment)).join(", "),
        },
        { header: "fallbacks", show: (r) => (r.noFallback ? "off" : listOf(r.fallbacks)) },
        { header: "cache", show: (r) => (r.cacheEnabled ? "on" : "") },
      ];
      const aliases: Column<AliasInfo>[] = [
        { header: "alias", show: (a) => a.name },
        { header: "target", show: (a) => a.target },
      ];
      await out(
        [
          section("DEPLOYMENTS") + (res.deployments.length ? table(deps, res.deployments) : "none\n"),
          section("ROUTES") + (res.routes.length ? table(routes, res.routes) : "none\n"),
          section("ALIASES") + (res.aliases.length ? table(aliases, res.aliases) : "none\n"),
        ].join("\n"),
      );
    });

  models
    .command("check")
    .description("send each deployment (all when none is named) a minimal real request and say which answered; exit 1 when any did not")
    .argument("[deployment...]", "deployment ids (default: every deployment in the config)")
    .option("--timeout <ms>", `each check's time limit, ms (the gateway's default: 20000; at most ${MAX_CHECK_TIMEOUT_MS})`, parseCount(1, MAX_CHECK_TIMEOUT_MS))
    .addHelpText(
      "after",
      [
        "",
        "Each check is a request of its own to that deployment alone (no fallback, retries or cache): a",
        "one-word chat with a few output tokens, or one embedding, rerank or moderation input. It is",
        'billed and recorded like any request, tagged "health-check" (`signalbox requests` lists them),',
        "and counts towards the deployment's health. Deployments that serve only images, speech,",
        "transcription or realtime are skipped (a check would be billed per unit). Admin keys only.",
        "",
        "Each row: the deployment, its provider, what was sent, ok / FAILED / skipped, the latency, the",
        "cost, and the error (with its code) or why it was skipped. Checked, ok, failed, cost and trace",
        "on stderr.",
        "",
        "Exit codes: 0 every deployment checked answered (skipped ones do not count); 1 one failed (or",
        "an id is no deployment: not_found), or the call itself failed; 2 bad usage.",
        "",
        "Examples:",
        "  signalbox models check",
        "  signalbox models check openai/gpt-4.1 anthropic/sonnet --timeout 5000",
        "  signalbox models check --json | jq '.checks[] | select(.healthy | not)'",
        "  */5 * * * *  signalbox models check >/dev/null 2>&1 || page-oncall   # cron",
      ].join("\n"),
    )
    .action(async (ids: string[], o: { timeout?: number }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const timeoutMs = o.timeout ?? 0;
      // The gateway runs the checks eight at once, each within its limit: the call's deadline
      // leaves them that time when the ids are known, and ten minutes when every deployment is
      // checked (the client's default of 30 s would cut a slow round short).
      const each = timeoutMs || DEFAULT_CHECK_TIMEOUT_MS;
      const deadline = ids.length ? Math.ceil(ids.length / 8) * each + 15_000 : Math.max(600_000, 4 * each + 15_000);
      const label = ids.length === 1 ? `checking ${ids[0]}` : `checking ${ids.length || "every"} deployment${ids.length === 1 ? "" : "s"}`;
      const res = await waiting(label, () => sb.admin.checkDeployments({ deployments: ids, timeoutMs }, { timeoutMs: deadline }));
      const failed = res.checks.filter((c) => !c.healthy && !c.skipped);
      if (mode === "json") await json(toJson(CheckDeploymentsResponseSchema, res));
      else {
        const cols: Column<DeploymentCheck>[] = [
          { header: "deployment", show: (c) => c.deployment },
          { header: "provider", show: (c) => c.provider },
          { header: "operation", show: (c) => c.operation },
          { header: "result", show: (c) => (c.healthy ? "ok" : c.skipped ? "skipped" : "FAILED"), raw: result },
          { header: "latency", csv: "latency_ms", show: (c) => (c.operation ? ms(c.latencyMs) : ""), raw: (c) => (c.operation ? c.latencyMs : ""), right: true },
          { header: "cost", csv: "cost_usd", show: (c) => (c.operation ? dollars(c.costNanoUsd) : ""), raw: (c) => (c.operation ? usd(c.costNanoUsd) : ""), right: true },
          { header: "detail", csv: "error", show: (c) => (c.healthy ? "" : c.skipped || [c.status, c.error].filter(Boolean).join(": ")) },
        ];
        await out(mode === "csv" ? csv(cols, res.checks) : res.checks.length ? table(cols, res.checks) : "no deployments to check\n");
        const checked = res.checks.filter((c) => !c.skipped);
        const skipped = res.checks.length - checked.length;
        const cost = checked.reduce((n, c) => n + c.costNanoUsd, 0n);
        const trace = res.checks.find((c) => c.traceId)?.traceId ?? "";
        note(
          [
            `— ${checked.length} checked: ${checked.length - failed.length} ok${failed.length ? `, ${failed.length} FAILED` : ""}`,
            skipped ? `${skipped} skipped` : "",
            dollars(cost),
            trace ? `trace ${traceLink(trace)}` : "",
          ]
            .filter(Boolean)
            .join(" · "),
        );
      }
      // Said already (the rows): only the exit code is left to set.
      if (failed.length) throw new CliError("", undefined, EXIT.failed);
    });
}

/** A check's outcome in one word, for CSV: "ok", "failed" or "skipped". */
const result = (c: DeploymentCheck) => (c.healthy ? "ok" : c.skipped ? "skipped" : "failed");

/** The latest check in the models table: "ok 30 ms, 2m ago", "FAILED unavailable, 5s ago", "skipped", "-". */
function lastCheck(c: DeploymentCheck | undefined): string {
  if (!c) return "-";
  if (c.skipped) return "skipped";
  const when = ago(c.checkTime);
  const what = c.healthy ? `ok ${ms(c.latencyMs)}` : `FAILED ${c.status || "error"}`;
  return when ? `${what}, ${when}` : what;
}

/** A deployment's spending caps in the models table: "$1.25 of $2.00 day; provider: $0.00 of $0.00 month OVER"; "" when it has none. */
function spendCaps(caps: SpendCap[]): string {
  return caps
    .map((c) => `${c.scope === "provider" ? "provider: " : ""}${dollars(c.spentNanoUsd)} of ${dollars(c.limitNanoUsd)} ${c.period}${c.over ? " OVER" : ""}`)
    .join("; ");
}

function health(d: DeploymentInfo): string {
  const h = d.health;
  if (!h) return "";
  switch (h.state) {
    case DeploymentHealth_State.COOLING_DOWN:
      return `cooling down until ${time(h.cooldownUntil)}${h.lastFailureKind ? ` (${enumLabel(FailureKindSchema, h.lastFailureKind)})` : ""}`;
    case DeploymentHealth_State.PROBING:
      return "probing";
    default:
      return enumLabel(DeploymentHealth_StateSchema, h.state) + (h.consecutiveFailures ? ` (${h.consecutiveFailures} failures in a row)` : "");
  }
}
