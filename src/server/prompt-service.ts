// PromptService: translates the Protobuf API to control-plane calls and back. Roles, validation
// and audit live in src/control/control-plane.ts; picking and rendering a version in
// src/control/prompts.ts, the same code every request that names a prompt runs.

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type Prompt as PbPrompt,
  PromptSchema,
  PromptSource,
  type PromptService,
  type PromptVersion as PbPromptVersion,
  PromptVersionSchema,
  PromptMessageSchema,
  PromptParametersSchema,
  type PromptParameters as PbPromptParameters,
} from "../../gen/signalbox/v1/prompt_pb.ts";
import type { Actor, ControlPlane } from "../control/control-plane.ts";
import { findPrompt, pickVersion, renderPrompt, type PromptVersionView, type PromptView } from "../control/prompts.ts";
import type { PromptParameters, PromptVersionRecord } from "../control/types.ts";
import { GatewayError } from "../router/errors.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey } from "./context.ts";
import { toConnectError } from "./errors.ts";

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });

/** Labels pointing at each version. */
function labelsOf(p: PromptView): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [l, v] of Object.entries(p.labels)) m.set(v, [...(m.get(v) ?? []), l].sort());
  return m;
}

function parametersToPb(p: PromptParameters | undefined): PbPromptParameters | undefined {
  return p && create(PromptParametersSchema, { temperature: p.temperature, topP: p.topP, maxOutputTokens: p.maxOutputTokens, stop: p.stop ?? [], reasoningEffort: p.reasoningEffort ?? "" });
}

function parametersFromPb(p: PbPromptParameters | undefined): PromptParameters | undefined {
  if (!p) return undefined;
  return {
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.topP !== undefined ? { topP: p.topP } : {}),
    ...(p.maxOutputTokens !== undefined ? { maxOutputTokens: p.maxOutputTokens } : {}),
    ...(p.stop.length ? { stop: [...p.stop] } : {}),
    ...(p.reasoningEffort ? { reasoningEffort: p.reasoningEffort as PromptParameters["reasoningEffort"] } : {}),
  };
}

export function promptVersionToPb(p: PromptView, v: PromptVersionView, labels = labelsOf(p)): PbPromptVersion {
  return create(PromptVersionSchema, {
    promptId: p.id,
    version: v.version,
    model: v.model ?? "",
    instructions: v.instructions ?? "",
    messages: v.messages.map((m) => create(PromptMessageSchema, { role: m.role, content: m.content })),
    variables: v.variables,
    description: v.description,
    createTime: timestampFromMs(v.createdAt),
    createdBy: v.createdBy,
    labels: labels.get(v.version) ?? [],
    parameters: parametersToPb(v.parameters),
  });
}

export function promptToPb(p: PromptView): PbPrompt {
  const latest = p.versions[p.versions.length - 1];
  return create(PromptSchema, {
    promptId: p.id,
    team: p.team,
    source: p.source === "config" ? PromptSource.CONFIG : PromptSource.STORE,
    latestVersion: latest?.version ?? "",
    labels: p.labels,
    versionCount: p.versions.length,
    updateTime: timestampFromMs(p.updatedAt),
    description: latest?.description ?? "",
  });
}

export function promptService(cp: ControlPlane, authEnabled: () => boolean): ServiceImpl<typeof PromptService> {
  const run = async <T>(ctx: HandlerContext, fn: (a: Actor) => T | Promise<T>): Promise<T> => {
    const a: Actor = { caller: ctx.values.get(callerKey), authEnabled: authEnabled(), traceId: ctx.values.get(requestInfoKey)?.traceId ?? "" };
    try {
      return await fn(a);
    } catch (err) {
      throw toConnectError(err, ctx.signal, a.traceId);
    }
  };
  const need = (v: string, field: string) => {
    if (!v) throw bad(field, "is required");
    return v;
  };
  return {
    createPromptVersion: (req, ctx) =>
      run(ctx, async (a) => {
        const { prompt, version } = await cp.createPromptVersion(a, {
          id: need(req.promptId, "prompt_id"),
          ...(req.team ? { team: req.team } : {}),
          ...(req.model ? { model: req.model } : {}),
          ...(req.instructions ? { instructions: req.instructions } : {}),
          messages: req.messages.map((m) => ({ role: m.role as PromptVersionRecord["messages"][number]["role"], content: m.content })),
          parameters: parametersFromPb(req.parameters),
          description: req.description,
          labels: req.labels,
        });
        return { version: promptVersionToPb(prompt, version), prompt: promptToPb(prompt) };
      }),
    listPrompts: (req, ctx) => run(ctx, (a) => ({ prompts: cp.listPrompts(a, req.team || undefined).map(promptToPb) })),
    getPrompt: (req, ctx) =>
      run(ctx, (a) => {
        const p = cp.getPrompt(a, need(req.promptId, "prompt_id"));
        const labels = labelsOf(p);
        return { prompt: promptToPb(p), versions: [...p.versions].reverse().map((v) => promptVersionToPb(p, v, labels)) };
      }),
    setPromptLabel: (req, ctx) =>
      run(ctx, async (a) => ({ prompt: promptToPb(await cp.setPromptLabel(a, need(req.promptId, "prompt_id"), need(req.label, "label"), req.version || undefined)) })),
    deletePrompt: (req, ctx) =>
      run(ctx, async (a) => {
        await cp.deletePrompt(a, need(req.promptId, "prompt_id"));
        return {};
      }),
    renderPrompt: (req, ctx) =>
      run(ctx, (a) => {
        const p = findPrompt(cp.prompts, a.caller, need(req.promptId, "prompt_id"), "prompt_id");
        const v = pickVersion(p, req.version, "version");
        const r = renderPrompt(p, v, req.variables, "variables");
        return {
          version: promptVersionToPb(p, v),
          model: r.model ?? "",
          instructions: r.instructions ?? "",
          messages: r.messages.map((m) => create(PromptMessageSchema, m)),
        };
      }),
  };
}
