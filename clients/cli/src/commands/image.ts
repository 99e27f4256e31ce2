// `signalbox image`: images generated from a prompt, or edited (--edit, --mask), through
// ImageService.Generate. Each image's bytes go
// to a file (never to stdout); stdout gets one line per image (the file written, or the URL where
// the provider hosts it), and who drew them, how many, the cost and the time go to stderr.

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { create, toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { GeneratedImageSchema, GenerateImagesResponseSchema, generateImages, type ImageOptions } from "@signalbox/client";
import { failure, readStdin, responseSummary, setup, usageError } from "../context.ts";
import { count } from "../format.ts";
import { json, note, out, waiting } from "../output.ts";
import { parseChoice, parseCount } from "../parse.ts";

const FORMATS = ["png", "jpeg", "webp"] as const;

/** File extensions by media type (what the gateway reports with the bytes). */
const EXTENSIONS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };

/** "auto" or WIDTHxHEIGHT ("1024x1024"), as the gateway takes it. */
function parseSize(s: string): string {
  const v = s.trim().toLowerCase();
  if (v === "auto" || /^[1-9]\d*x[1-9]\d*$/.test(v)) return v;
  throw new InvalidArgumentError(`"${s}" is not a size: use WIDTHxHEIGHT (e.g. 1024x1024) or auto`);
}

interface ImageFlags {
  n?: number;
  size?: string;
  quality?: string;
  style?: string;
  background?: string;
  format?: (typeof FORMATS)[number];
  returnUrl?: boolean;
  out?: string;
  edit?: string[];
  mask?: string;
  fidelity?: "high" | "low";
}

/** An image file read for an edit (its type read from its bytes by the gateway). */
function readImage(path: string, flag: string) {
  try {
    return { data: new Uint8Array(readFileSync(path)), filename: basename(path) };
  } catch (err) {
    throw usageError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "name a PNG, JPEG or WebP file");
  }
}

export function imageCommand(program: Command): void {
  program
    .command("image")
    .description("generate images from a prompt, or edit images (--edit); each is written to a file, its path on stdout, deployment and cost on stderr")
    .argument("<model>", "a route, alias or deployment id that serves images (e.g. images)")
    .argument("[prompt...]", "what to draw (read from stdin when absent or -)")
    .option("-n, --n <count>", "how many images, 1 to 10 (default: 1)", parseCount(1, 10))
    .option("--size <size>", "WIDTHxHEIGHT (e.g. 1024x1024) or auto (default: the model's)", parseSize)
    .option("--quality <quality>", "GPT Image: low, medium, high, auto; DALL·E 3: standard, hd")
    .option("--style <style>", "DALL·E 3: vivid or natural")
    .option("--background <background>", "GPT Image: transparent, opaque or auto")
    .option("--format <format>", `the image format: ${FORMATS.join(", ")} (GPT Image)`, parseChoice(FORMATS))
    .option("--return-url", "DALL·E: ask for a URL where the provider hosts each image instead of its bytes")
    .option("-o, --out <path>", "a file name (with n > 1: -1, -2 … before the extension) or a directory (default: ./image-<request id>-<i>.<ext>)")
    .option("--edit <file>", "edit this image instead of drawing from nothing (repeat for several: GPT Image takes up to 16)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--mask <file>", "with --edit: a PNG whose transparent areas are where the first image changes")
    .option("--fidelity <level>", "with --edit, GPT Image: how closely the input's details are kept, high or low", parseChoice(["high", "low"] as const))
    .addHelpText(
      "after",
      '\nExamples:\n  signalbox image images "a red fox in the snow"\n  signalbox image images "a lighthouse at dusk" -n 3 --size 1024x1024 -o renders/\n  echo "a watercolour map of Lisbon" | signalbox image dall-e-3 --quality hd --style natural -o lisbon.png\n  signalbox image gpt-image "put a hat on the fox" --edit fox.png --mask hat-area.png -o fox-hat.png',
    )
    .action(async (model: string, words: string[], o: ImageFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const target = o.out === undefined ? undefined : outTarget(o.out);
      const prompt = (words.length === 0 || (words.length === 1 && words[0] === "-") ? await readStdin() : words.join(" ")).trim();
      if (!prompt) throw usageError("no prompt", 'pass it as an argument (signalbox image images "a red fox") or on stdin');
      const options: ImageOptions = {
        ...(o.n !== undefined ? { n: o.n } : {}),
        ...(o.size ? { size: o.size } : {}),
        ...(o.quality ? { quality: o.quality } : {}),
        ...(o.style ? { style: o.style } : {}),
        ...(o.background ? { background: o.background } : {}),
        ...(o.format ? { outputFormat: o.format } : {}),
        ...(o.returnUrl ? { returnUrl: true } : {}),
      };
      if ((o.mask || o.fidelity) && !o.edit?.length) throw usageError(`${o.mask ? "--mask" : "--fidelity"} applies to an edit`, "name the image to edit with --edit <file>");
      if (o.edit?.length) {
        options.images = o.edit.map((f) => readImage(f, "--edit"));
        if (o.mask) options.mask = readImage(o.mask, "--mask");
        if (o.fidelity) options.inputFidelity = o.fidelity;
      }
      const { images, response } = await waiting(o.edit?.length ? "editing" : "drawing", () => generateImages(sb, model, prompt, options));
      const many = images.length > 1;
      const written = images.map((im, i) => {
        if (im.data.length === 0) return { ...im, file: undefined };
        const ext = EXTENSIONS[im.mediaType] ?? "png";
        const file = target?.file ? numbered(target.file, i + 1, many) : join(target?.dir ?? "", `image-${response.id}-${i + 1}.${ext}`);
        try {
          writeFileSync(file, im.data);
        } catch (err) {
          throw failure(`writing ${file}: ${(err as Error).message}`, "check the --out path and its permissions");
        }
        return { ...im, file };
      });
      if (mode === "json") {
        // The API's own JSON form, with each image's bytes replaced by the file they were written to.
        const api = toJson(GenerateImagesResponseSchema, {
          ...response,
          images: response.images.map((im) => create(GeneratedImageSchema, { ...im, data: new Uint8Array() })),
        }) as Record<string, unknown>;
        const apiImages = (api.images as Record<string, unknown>[] | undefined) ?? [];
        return json({
          ...api,
          images: written.map((im, i) => ({ ...(im.file ? { file: im.file } : {}), ...apiImages[i] })),
          files: written.flatMap((im) => (im.file ? [im.file] : [])),
          urls: written.flatMap((im) => (im.url ? [im.url] : [])),
          revisedPrompts: written.map((im) => im.revisedPrompt ?? ""),
        });
      }
      await out(written.map((im) => `${im.file ?? im.url ?? ""}${im.revisedPrompt ? `\t${im.revisedPrompt.replace(/\s*\n\s*/g, " ")}` : ""}\n`).join(""));
      const u = response.usage;
      const n = u?.images || BigInt(images.length);
      note(
        responseSummary(
          [
            `— ${response.deployment}${response.routing?.route ? ` (route ${response.routing.route})` : ""}`,
            `${count(n)} image${n === 1n ? "" : "s"}${response.size ? ` ${response.size}` : ""}`,
            u?.totalTokens ? `${count(u.totalTokens)} tokens` : "",
          ],
          response,
        ),
      );
    });
}

/**
 * Where `--out` points: an existing directory, or a path ending in "/", is a directory; anything
 * else is a file name in a directory that must exist. Checked before anything is sent, so a typo
 * costs nothing.
 */
function outTarget(path: string): { dir?: string; file?: string } {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (path === "") throw usageError("-o/--out: empty path", "pass a file name or a directory");
  if (/[/\\]$/.test(path) || isDir(path)) {
    if (!isDir(path)) throw usageError(`-o/--out ${path}: no such directory`, "create it first, or pass an existing directory");
    return { dir: path };
  }
  if (!isDir(dirname(path))) throw usageError(`-o/--out ${path}: no such directory: ${dirname(path)}`, "create it first, or pass a path in an existing directory");
  return { file: path };
}

/** With several images, "fox.png" → "fox-1.png", "fox-2.png" …; one image keeps the name given. */
function numbered(file: string, i: number, many: boolean): string {
  if (!many) return file;
  const ext = extname(basename(file));
  return `${file.slice(0, file.length - ext.length)}-${i}${ext}`;
}

