// `signalbox route explain` and `signalbox models`: RouteService, which never calls a provider.

import { toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import {
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
  type DeploymentInfo,
  type Exclusion,
  type RouteInfo,
} from "@signalbox/client";
import { setup } from "../context.ts";
import { count, enumLabel, enumValue, listOf, ms, perMtok, time, usd } from "../format.ts";
import { type Column, csv, fields, json, out, section, table, waiting } from "../output.ts";
import { parseChoice, parseList } from "../parse.ts";
import { type ProviderFlags, providerFlags, providerPreferences } from "../request.ts";

/** "tier=pro" → { tier: "pro" }; a value without "=" is bad usage. */
function parsePair(v: string): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got "${v}"`);
  return { [v.slice(0, i).trim()]: v.slice(i + 1).trim() };
}

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

  program
    .command("models")
    .description("deployments (provider, prices, context window, health), routes and aliases")
    .addHelpText("after", "\n--csv prints the deployments table.")
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
