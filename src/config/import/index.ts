// `signalbox config import`: a peer gateway's configuration file, as a Signalbox one. The format
// is told by the file's shape (LiteLLM's has a model_list; Bifrost's a providers mapping) or named.

import { stringify } from "yaml";
import { importBifrost } from "./bifrost.ts";
import { importLiteLLM } from "./litellm.ts";
import type { ImportResult } from "./types.ts";

export type { ImportNote, ImportResult } from "./types.ts";
export const IMPORT_FORMATS = ["litellm", "bifrost"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Which peer wrote this document, by its shape; undefined when neither. */
export function detectFormat(doc: unknown): ImportFormat | undefined {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if (Array.isArray(d.model_list) || "litellm_settings" in d || "router_settings" in d) return "litellm";
  if ((typeof d.providers === "object" && d.providers !== null && !Array.isArray(d.providers)) || "governance" in d || "client" in d) return "bifrost";
  return undefined;
}

/**
 * `masterKey`: how to read the one variable LiteLLM's general_settings.master_key may name
 * (os.environ/NAME), so that key can be hashed into an admin key; absent, it is left to the user.
 */
export function importConfig(doc: unknown, from: ImportFormat | undefined = detectFormat(doc), opts: { masterKey?: (name: string) => string | undefined } = {}): ImportResult {
  if (!from) throw new Error("not a LiteLLM config (model_list, router_settings, litellm_settings) or a Bifrost config.json (a providers mapping): name its format, litellm or bifrost");
  return from === "litellm" ? importLiteLLM(doc, opts) : importBifrost(doc);
}

/**
 * Stand-ins for the variables an imported config references that this environment does not set,
 * so it can be checked before they exist: each shaped as the field that uses it wants (an address
 * for base_url, url, endpoint and token_url, a region, a location, a service account's JSON for
 * credentials_json), else a plain word. Set variables keep their values. Never used to run.
 */
export function placeholderEnv(config: unknown, env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  const sa = JSON.stringify({ type: "service_account", client_email: "placeholder@example.iam.gserviceaccount.com", private_key: "placeholder" });
  const walk = (v: unknown, field: string) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
        const leading = v.startsWith(m[0]);
        out[m[1]] ??= leading && /^(base_url|url|endpoint|token_url|account_url)$/.test(field) ? "https://placeholder.example" : field === "region" ? "us-east-1" : field === "location" ? "us-central1" : field === "credentials_json" ? sa : "placeholder";
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, field));
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(config, "");
  return out;
}

/**
 * The Signalbox config file an import stands for: where it came from, the variables to set, the
 * literal secrets to move, and every note (what needs a hand first) as comments at its top, then
 * the config itself, every route's settings written out (no YAML anchors).
 */
export function importedYaml(r: ImportResult, file: string): string {
  const lines = [`Imported from ${r.from === "litellm" ? "LiteLLM's" : "Bifrost's"} ${file} by \`signalbox config import\`. Check it with \`signalbox config check\`.`];
  if (r.env.length) lines.push(`Environment: ${r.env.join(", ")}`);
  if (r.literalSecrets.length) lines.push(`Secrets written in ${file} itself, carried as they were (move them into the environment): ${r.literalSecrets.join(", ")}`);
  const order = { manual: 0, changed: 1, dropped: 2 } as const;
  const notes = [...r.notes].sort((a, b) => order[a.kind] - order[b.kind]);
  if (notes.length) lines.push(`What needs a hand, what changed and what was left out (${notes.length}):`, ...notes.map((n) => `  ${n.kind === "manual" ? "TO DO" : n.kind}: ${n.path}: ${n.detail}`));
  return `${lines.flatMap((l) => l.split("\n")).map((l) => `# ${l}`.trimEnd()).join("\n")}\n\n${stringify(r.config, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

