// Active checks of deployments (LiteLLM's /health, and its background health checks): each
// deployment is sent a minimal real request, alone (no fallback, no retries, not from or into the
// cache), through the same engine as any request, so a check is planned, admitted, traced, billed
// and recorded (tagged "health-check") and its outcome is heard by the deployment's health: a
// failure counts towards a cooldown like a caller's, an answer ends a cooldown's probe. What each
// check found is kept in the health store (shared through Redis), for ListModels, the console and
// the command line.
//
// What is sent, by the first operation the deployment serves: chat "ping" with 5 output tokens at
// most; one embedding of "ping"; a rerank of one document; a moderation of "ping". Deployments that
// serve only images, speech, transcription or realtime are not checked (each check would be billed
// per image or per second): their outcome says so.

import { create } from "@bufbuild/protobuf";
import { ChatRequestSchema, Role } from "../../gen/signalbox/v1/chat_pb.ts";
import { EmbedRequestSchema } from "../../gen/signalbox/v1/embedding_pb.ts";
import { SearchRequestSchema } from "../../gen/signalbox/v1/search_pb.ts";
import { OcrRequestSchema } from "../../gen/signalbox/v1/ocr_pb.ts";
import { ModerateRequestSchema } from "../../gen/signalbox/v1/moderation_pb.ts";
import { RerankRequestSchema } from "../../gen/signalbox/v1/rerank_pb.ts";
import type { DeploymentConfig } from "../config/types.ts";
import type { PromptLibrary } from "../control/prompts.ts";
import type { GatewayCore } from "../gateway.ts";
import type { Caller } from "../router/types.ts";
import { checkedChatCall, toEmbedCall, toModerationCall, toOcrCall, toRerankCall, toSearchCall } from "../server/convert.ts";
import { newRequestId, randomId128, type RequestInfo } from "../server/context.ts";
import { toConnectError } from "../server/errors.ts";
import { codeName } from "../server/chat-service.ts";
import { validateEmbedCall, validateModerationCall, validateOcrCall, validateRerankCall, validateSearchCall } from "../server/validate.ts";
import type { CheckOutcome } from "../state/health.ts";
import { log } from "../telemetry/log.ts";
import type { ChatEngine } from "./chat-engine.ts";

export const CHECK_TAG = "health-check";
export const DEFAULT_CHECK_TIMEOUT_MS = 20_000;
export const MAX_CHECK_TIMEOUT_MS = 120_000;
/** Checks under way at once (a check of fifty deployments is not fifty sockets at once). */
const CONCURRENCY = 8;
const CHECKED: ReadonlyArray<"chat" | "embeddings" | "rerank" | "moderation" | "search" | "ocr"> = ["chat", "embeddings", "rerank", "moderation", "search", "ocr"];
/** What an OCR check reads: a 1×1 PNG, one page (the least a page-billed model can be sent). */
const CHECK_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==", "base64");

/** Who the background checks run as: billed to no key, recorded under this name. */
export const CHECKER: Caller = Object.freeze({ keyName: "health-check", team: "", role: "admin", allow: [] }) as Caller;


export interface DeploymentChecker {
  /**
   * Check the deployments named (every listed one when none is), at most CONCURRENCY at once; an
   * id that is no deployment comes back as a failure with status "not_found". `parent` is the
   * asking request's (its trace holds the checks' spans).
   */
  check(ids: string[], caller: Caller, timeoutMs: number, parent?: RequestInfo): Promise<CheckOutcome[]>;
  /** Start the background checks of `health_checks` (read at each period, so a reload takes effect). */
  start(): void;
  stop(): void;
}

export function createDeploymentChecker(core: GatewayCore, engine: ChatEngine, prompts: PromptLibrary): DeploymentChecker {
  async function checkOne(d: DeploymentConfig | undefined, id: string, caller: Caller, timeoutMs: number, parent?: RequestInfo): Promise<CheckOutcome> {
    const time = Date.now();
    const base = { deployment: id, provider: d?.provider ?? "", time, costNanos: 0, latencyMs: 0, requestId: "", traceId: "", error: "", status: "", skipped: "" };
    if (!d) return { ...base, operation: "", healthy: false, status: "not_found", error: `no deployment "${id}"` };
    const operation = CHECKED.find((o) => d.operations.includes(o));
    if (!operation) {
      return { ...base, operation: "", healthy: false, skipped: `serves only ${d.operations.join(", ")}: a check would be billed per unit` };
    }
    // A deployment past its spending cap is not sent a request, not even a check (and is not unhealthy for it).
    const capped = core.spendCaps?.over(d);
    if (capped) return { ...base, operation: "", healthy: false, skipped: `over its spending cap: ${capped}` };
    const ri: RequestInfo = { id: newRequestId(), traceId: parent?.traceId ?? randomId128(), arrivedAt: performance.now(), ...(parent?.otel ? { otel: parent.otel } : {}) };
    const signal = AbortSignal.timeout(timeoutMs);
    const statusOf = (err: unknown) => (err === undefined ? "ok" : signal.aborted ? "deadline_exceeded" : codeName(toConnectError(err, undefined, ri.traceId).code));
    // The time limit is the signal's alone (a route timeout racing it would word the same failure two ways).
    const routing = { noFallback: true, maxAttempts: 1 };
    const common = { model: d.id, tags: [CHECK_TAG], routing };
    const started = performance.now();
    let costNanos = 0;
    try {
      if (operation === "chat") {
        const req = create(ChatRequestSchema, { ...common, messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "ping" } }] }], maxOutputTokens: 5 });
        const call = checkedChatCall(req, ri.id, caller, false, prompts);
        const a = await engine.complete({ call, ri, signal, cache: { mode: "bypass" }, statusOf });
        costNanos = a.cost.total;
      } else if (operation === "embeddings") {
        const call = toEmbedCall(create(EmbedRequestSchema, { ...common, inputs: ["ping"] }), ri.id, caller);
        validateEmbedCall(call);
        const a = await engine.embed({ call, ri, signal, cache: { mode: "bypass" }, statusOf });
        costNanos = a.cost.total;
      } else if (operation === "rerank") {
        const call = toRerankCall(create(RerankRequestSchema, { ...common, query: "ping", documents: ["pong"] }), ri.id, caller);
        validateRerankCall(call);
        const a = await engine.rerank({ call, ri, signal, cache: { mode: "bypass" }, statusOf });
        costNanos = a.cost.total;
      } else if (operation === "search") {
        // One page for one query: one search, at the engine's price.
        const call = toSearchCall(create(SearchRequestSchema, { ...common, queries: ["ping"], maxResults: 1, maxCharacters: 100 }), ri.id, caller);
        validateSearchCall(call);
        const a = await engine.search({ call, ri, signal, cache: { mode: "bypass" }, statusOf });
        costNanos = a.cost.total;
      } else if (operation === "ocr") {
        // One page: a 1×1 image, at the model's price for a page.
        const call = toOcrCall(create(OcrRequestSchema, { ...common, document: CHECK_PNG, mediaType: "image/png" }), ri.id, caller);
        validateOcrCall(call);
        const a = await engine.ocr({ call, ri, signal, cache: { mode: "bypass" }, statusOf });
        costNanos = a.cost.total;
      } else {
        const call = toModerationCall(create(ModerateRequestSchema, { ...common, inputs: ["ping"] }), ri.id, caller);
        validateModerationCall(call);
        const a = await engine.moderate({ call, ri, signal, statusOf });
        costNanos = a.cost.total;
      }
      return { ...base, operation, healthy: true, latencyMs: Math.round(performance.now() - started), costNanos, requestId: ri.id, traceId: ri.traceId };
    } catch (err) {
      const e = toConnectError(err, undefined, ri.traceId);
      const status = signal.aborted ? "deadline_exceeded" : codeName(e.code);
      const error = signal.aborted ? `no answer within ${timeoutMs} ms` : e.rawMessage;
      return { ...base, operation, healthy: false, status, error, latencyMs: Math.round(performance.now() - started), requestId: ri.id, traceId: ri.traceId };
    }
  }

  async function check(ids: string[], caller: Caller, timeoutMs: number, parent?: RequestInfo): Promise<CheckOutcome[]> {
    const registry = core.registry;
    const list = ids.length ? ids : registry.config.deployments.map((d) => d.id);
    const out: CheckOutcome[] = new Array(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const i = next++;
        let d: DeploymentConfig | undefined;
        try {
          d = registry.deployment(list[i]);
        } catch {
          // a wildcard that cannot make this model: not a deployment
        }
        const o = await checkOne(d, list[i], caller, timeoutMs, parent);
        core.exec.health.putCheck(o);
        core.metrics.deploymentCheck(o.deployment, o.healthy ? "ok" : o.skipped ? "skipped" : "failed", o.status);
        out[i] = o;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, list.length) }, worker));
    return out;
  }

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  /** When the last round started (epoch ms); the first round comes a couple of seconds after start. */
  let last = 0;
  const tick = async () => {
    const hc = core.config.healthChecks;
    if (!hc || running || Date.now() - last < hc.intervalMs) return;
    running = true;
    last = Date.now();
    try {
      if (!(await core.exec.health.claimChecks(hc.intervalMs))) return;
      const results = await check(hc.deployments, CHECKER, hc.timeoutMs);
      const failed = results.filter((r) => !r.healthy && !r.skipped);
      if (failed.length) log("warn", "deployment checks failed", { failed: failed.map((f) => `${f.deployment}: ${f.status}: ${f.error}`) });
    } catch (err) {
      log("warn", "deployment checks did not run", { error: (err as Error)?.message ?? String(err) });
    } finally {
      running = false;
    }
  };

  return {
    check,
    start() {
      // The config is read every second (a reload may add, change or remove health_checks); the
      // first round two seconds after start, while providers and stores finish connecting.
      const interval = core.config.healthChecks?.intervalMs ?? 0;
      last = Date.now() - interval + 2_000;
      timer = setInterval(() => void tick(), 1_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
