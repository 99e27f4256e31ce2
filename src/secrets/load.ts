// Loading a config file whose strings refer to secret managers (src/config/secrets.ts): every
// reference read from its source (src/secrets/readers.ts), then the file built as loadConfig builds
// it. The gateway's start-up and reloads load through here; the command line checks files with
// loadConfigUnread instead (no source is read).

import { buildConfig, logImport, readConfigDoc } from "../config/load.ts";
import { resolveSecrets, substituteSecrets, type SecretReader } from "../config/secrets.ts";
import type { Config } from "../config/types.ts";
import { defaultReader } from "./readers.ts";

/** Load a config file, its `${secret:…}` references read; `config.secrets.digest` says which values are in force. */
export async function loadConfigWithSecrets(path: string, env: Record<string, string | undefined> = process.env, reader?: SecretReader): Promise<Config> {
  // A LiteLLM or Bifrost file is imported as it is read; what the import changed or left out is logged.
  return buildConfigWithSecrets(readConfigDoc(path, env, logImport(path)), env, reader);
}

/** buildConfig for a parsed file with `${secret:…}` references: read, substituted, built. */
export async function buildConfigWithSecrets(doc: unknown, env: Record<string, string | undefined> = process.env, reader: SecretReader = defaultReader(env)): Promise<Config> {
  const resolved = await resolveSecrets(doc, env, reader);
  const config = buildConfig(resolved.values.size ? substituteSecrets(doc, resolved.values) : doc, env);
  return config.secrets ? { ...config, secrets: { ...config.secrets, digest: resolved.digest } } : config;
}

/** The digest of a config file's secrets as their sources hold them now (a refresh compares it with the one in force). */
export async function readSecretsDigest(path: string, env: Record<string, string | undefined> = process.env, reader: SecretReader = defaultReader(env)): Promise<string> {
  return (await resolveSecrets(readConfigDoc(path, env), env, reader)).digest;
}
