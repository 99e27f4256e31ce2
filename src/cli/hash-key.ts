// `npm run hash-key [-- <key>]`: prints a new caller key (or hashes the one given) and the
// `hash:` line to put in config. Only the hash is ever stored.

import { randomBytes } from "node:crypto";
import { hashKey } from "../server/auth.ts";

const key = process.argv[2] ?? `sbx_${randomBytes(24).toString("base64url")}`;
if (!process.argv[2]) process.stdout.write(`key:  ${key}\n`);
process.stdout.write(`hash: ${hashKey(key)}\n`);
