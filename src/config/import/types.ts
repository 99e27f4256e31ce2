// What an importer of a peer gateway's configuration returns (`signalbox config import`): a
// Signalbox config document (plain objects, as the YAML file will hold them) and what the import
// changed or left out, each note naming the setting of the source file it is about. Importers are
// pure: they read nothing (no environment, no files), so a secret is never read, only carried as a
// `${VAR}` reference or, when the source file holds it literally, as it was written there.

export interface ImportNote {
  /** Where in the source file: `model_list[2].litellm_params.tpm`, `providers.openai.keys[0].weight`. */
  path: string;
  /** What became of it: left out (and why, and what to use instead), or changed (to what). Never a secret. */
  detail: string;
  /** `dropped`: not carried over; `changed`: carried over differently from the source's meaning; `manual`: needs a hand (say what). */
  kind: "dropped" | "changed" | "manual";
}

export interface ImportResult {
  /** The source's format. */
  from: "litellm" | "bifrost";
  /** The Signalbox config document: providers, deployments, routes, aliases, keys, store, … */
  config: Record<string, unknown>;
  notes: ImportNote[];
  /** Environment variables the config references (`${NAME}`), in order of first use. */
  env: string[];
  /** Literal secrets of the source that the config carries as written (their paths in the source), to move into the environment. */
  literalSecrets: string[];
  /** Those secrets' values, for a caller that shows the config and must not show them (AdminService.ImportConfig masks them). */
  secretValues: string[];
}
