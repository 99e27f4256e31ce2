// `signalbox transcribe` and `signalbox speak`: AudioService. transcribe prints what a recording
// says (the text, the API's JSON, or SRT/WebVTT subtitles rendered here from its segments) on
// stdout; speak writes the audio to a file (or, with `-o -`, to stdout). Who served the call, how
// much audio or text, the cost and the time go to stderr, as for `signalbox image`.

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { speak, type SpeakOptions, SpeakResponseSchema, transcribe, type TranscribeOptions, TranscribeResponseSchema } from "@signalbox/client";
import { CliError, failure, readStdin, responseSummary, setup, usageError } from "../context.ts";
import { count } from "../format.ts";
import { json, note, out, waiting } from "../output.ts";
import { parseChoice, parseList, parseNumber } from "../parse.ts";
import { type RequestFlags, requestFields, requestFlags, servedBy } from "../request.ts";
import { cuesOf, toSrt, toVtt } from "../subtitles.ts";

/** What the gateway takes in one transcription request. */
const MAX_AUDIO_BYTES = 25 * 1024 * 1024;

/** Media types of the recordings transcription takes, by file extension. */
const AUDIO_TYPES: Record<string, string> = {
  ".flac": "audio/flac",
  ".mp3": "audio/mpeg",
  ".mpga": "audio/mpeg",
  ".mpeg": "audio/mpeg",
  ".mp4": "audio/mp4",
  ".m4a": "audio/mp4",
  ".ogg": "audio/ogg",
  ".oga": "audio/ogg",
  ".opus": "audio/ogg",
  ".wav": "audio/wav",
  ".webm": "audio/webm",
};

/** A recording's media type from its first bytes (stdin, or a file named without a known extension). */
export function sniffAudio(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "audio/wav";
  if (ascii(0, 4) === "fLaC") return "audio/flac";
  if (ascii(0, 4) === "OggS") return "audio/ogg";
  if (b.length >= 8 && ascii(4, 8) === "ftyp") return "audio/mp4";
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "audio/webm";
  if (ascii(0, 3) === "ID3" || (b[0] === 0xff && b.length > 1 && (b[1] & 0xe0) === 0xe0)) return "audio/mpeg";
  return undefined;
}

const TRANSCRIPT_FORMATS = ["text", "json", "srt", "vtt"] as const;
const GRANULARITIES = ["segment", "word"] as const;
const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;

/** File extensions by the media type the gateway reports with speech. */
const SPEECH_EXTENSIONS: Record<string, string> = {
  "audio/mpeg": "mp3",
  "audio/mp3": "mp3",
  "audio/opus": "opus",
  "audio/ogg": "opus",
  "audio/aac": "aac",
  "audio/flac": "flac",
  "audio/wav": "wav",
  "audio/wave": "wav",
  "audio/x-wav": "wav",
  "audio/pcm": "pcm",
  "audio/l16": "pcm",
};

/** "segment,word" → ["segment", "word"], each checked. */
function parseGranularities(s: string): string[] {
  const list = parseList(s.toLowerCase());
  for (const g of list) if (!(GRANULARITIES as readonly string[]).includes(g)) throw new InvalidArgumentError(`"${g}" is not one of ${GRANULARITIES.join(", ")}`);
  if (list.length === 0) throw new InvalidArgumentError(`name one or both of ${GRANULARITIES.join(", ")}`);
  return [...new Set(list)];
}

/** Seconds of audio as "0.66 s", "12.4 s" or "3 min 05.2 s". */
function audioLength(s: number): string {
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${(s - m * 60).toFixed(1).padStart(4, "0")} s`;
}

interface TranscribeFlags extends RequestFlags {
  language?: string;
  prompt?: string;
  temperature?: number;
  translate?: boolean;
  timestamps?: string[];
  format: (typeof TRANSCRIPT_FORMATS)[number];
}

export function transcribeCommand(program: Command): void {
  requestFlags(
    program
      .command("transcribe")
      .description("the text spoken in a recording (or its English translation) on stdout: plain, JSON, SRT or WebVTT; deployment and cost on stderr")
      .argument("<model>", "a route, alias or deployment id that serves transcription (e.g. transcription)")
      .argument("<file>", `the recording: ${Object.keys(AUDIO_TYPES).join(" ")} (at most 25 MB), or - for stdin`)
      .option("--language <code>", "the spoken language, ISO-639-1 (e.g. en; default: detected)")
      .option("--prompt <text>", "text to guide the style, or the transcript of the audio before this")
      .option("--temperature <t>", "sampling temperature, 0 to 1", parseNumber(0, 1))
      .option("--translate", "translate into English instead of transcribing (whisper-1)")
      .option("--timestamps <granularities>", "ask for timestamps: segment, word or segment,word (in --format json)", parseGranularities)
      .option("--format <format>", `what to print: ${TRANSCRIPT_FORMATS.join(", ")} (srt and vtt ask for segment timestamps)`, parseChoice(TRANSCRIPT_FORMATS), "text"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  signalbox transcribe transcription meeting.mp3\n  signalbox transcribe transcription interview.m4a --language fr --translate\n  signalbox transcribe transcription talk.wav --format srt > talk.srt\n  curl -s https://example.com/clip.ogg | signalbox transcribe transcription - --format json --timestamps word",
    )
    .action(async (model: string, file: string, o: TranscribeFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const format = mode === "json" ? "json" : o.format;
      if (mode === "json" && o.format !== "text" && o.format !== "json") throw usageError(`--json and --format ${o.format} cannot be used together`, "pick one");
      const { audio, filename, mediaType } = file === "-" ? await stdinAudio() : fileAudio(file);
      const granularities = new Set(o.timestamps ?? []);
      if (format === "srt" || format === "vtt") granularities.add("segment");
      const options: TranscribeOptions = {
        ...(filename ? { filename } : {}),
        ...(mediaType ? { mediaType } : {}),
        ...(o.language ? { language: o.language } : {}),
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...(o.translate ? { translate: true } : {}),
        ...(granularities.size ? { timestampGranularities: [...granularities] } : {}),
        ...requestFields(o),
      };
      const { text, response } = await waiting(o.translate ? "translating" : "transcribing", () => transcribe(sb, model, audio, options));
      if (format === "json") {
        await json(toJson(TranscribeResponseSchema, response));
      } else if (format === "srt" || format === "vtt") {
        const { cues, whole } = cuesOf(response);
        if (whole) note(`note: ${response.deployment} returned no segments: one cue for the whole text`);
        await out(format === "srt" ? toSrt(cues) : toVtt(cues));
      } else {
        await out(text === "" || text.endsWith("\n") ? text : `${text}\n`);
      }
      if (format === "json") return;
      const u = response.usage;
      // The recording's length, and the seconds billed when they differ (whisper-1 bills whole seconds).
      const seconds = response.durationSeconds || u?.audioSeconds || 0;
      const billed = u?.audioSeconds && audioLength(u.audioSeconds) !== audioLength(seconds) ? ` (${audioLength(u.audioSeconds)} billed)` : "";
      note(
        responseSummary(
          [
            `— ${servedBy(response)}`,
            seconds ? `${audioLength(seconds)} of audio${billed}` : "",
            response.language ? `${o.translate ? "from " : ""}${response.language}` : "",
            u?.totalTokens ? `${count(u.totalTokens)} tokens` : "",
          ],
          response,
        ),
      );
    });
}

/** A recording from a file: its bytes, its name, and its media type (by extension, else by its bytes). */
function fileAudio(path: string): { audio: Uint8Array; filename: string; mediaType: string } {
  let audio: Uint8Array;
  try {
    if (statSync(path).size > MAX_AUDIO_BYTES) throw usageError(`${path}: larger than 25 MB`, "split the recording, or compress it (e.g. to mp3)");
    audio = readFileSync(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  const mediaType = AUDIO_TYPES[extname(path).toLowerCase()] ?? sniffAudio(audio);
  if (!mediaType) throw usageError(`${path}: unknown audio format`, `use a ${Object.keys(AUDIO_TYPES).join(", ")} file`);
  return { audio, filename: basename(path), mediaType };
}

/** A recording piped in: its bytes, and its media type from them (the gateway assumes WAV without one). */
async function stdinAudio(): Promise<{ audio: Uint8Array; filename: string; mediaType: string }> {
  if (process.stdin.isTTY) throw usageError("no audio on stdin", "pipe a recording in (… | signalbox transcribe transcription -) or pass a file");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_AUDIO_BYTES) throw usageError("stdin: larger than 25 MB", "split the recording, or compress it (e.g. to mp3)");
    chunks.push(chunk);
  }
  const audio = Buffer.concat(chunks);
  if (audio.length === 0) throw usageError("no audio on stdin", "pipe a recording in (… | signalbox transcribe transcription -) or pass a file");
  return { audio, filename: "", mediaType: sniffAudio(audio) ?? "" };
}

interface SpeakFlags extends RequestFlags {
  voice: string;
  format?: (typeof SPEECH_FORMATS)[number];
  speed?: number;
  instructions?: string;
  output?: string;
}

export function speakCommand(program: Command): void {
  requestFlags(
    program
      .command("speak")
      .description("read a text aloud: the audio is written to a file (its path and the cost on stdout), or with -o - to stdout")
      .argument("<model>", "a route, alias or deployment id that serves speech (e.g. speech)")
      .argument("[text...]", "what to say (read from stdin when absent or -)")
      .option("--voice <voice>", "alloy, ash, ballad, coral, echo, fable, onyx, nova, sage, shimmer, verse, marin, cedar, or a custom voice's id", "alloy")
      .option("--format <format>", `the audio format: ${SPEECH_FORMATS.join(", ")} (default: mp3; pcm is raw 24 kHz 16-bit mono)`, parseChoice(SPEECH_FORMATS))
      .option("--speed <speed>", "0.25 to 4 (default: 1)", parseNumber(0.25, 4))
      .option("--instructions <text>", "how to speak: tone, accent, pace (gpt-4o-mini-tts)")
      .option("-o, --output <file>", "the file to write, or a directory, or - for stdout (default: ./speech.<ext>)"),
  )
    .addHelpText(
      "after",
      '\nExamples:\n  signalbox speak speech "The build is green."\n  signalbox speak speech "Welcome aboard" --voice coral --format wav -o welcome.wav\n  cat notes.txt | signalbox speak tts-1-hd --speed 1.25 -o - | mpv -',
    )
    .action(async (model: string, words: string[], o: SpeakFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const toStdout = o.output === "-";
      if (toStdout && mode === "json") throw usageError("--json and -o - cannot be used together: the audio is stdout", "write the audio to a file with -o");
      const target = o.output === undefined || toStdout ? undefined : outTarget(o.output);
      const input = (words.length === 0 || (words.length === 1 && words[0] === "-") ? await readStdin() : words.join(" ")).trim();
      if (!input) throw usageError("no text", 'pass it as an argument (signalbox speak speech "Hello") or on stdin');
      const options: SpeakOptions = {
        ...(o.format ? { format: o.format } : {}),
        ...(o.speed !== undefined ? { speed: o.speed } : {}),
        ...(o.instructions ? { instructions: o.instructions } : {}),
        ...requestFields(o),
      };
      const { audio, mediaType, response } = await waiting("speaking", () => speak(sb, model, input, o.voice, options));
      let file: string | undefined;
      if (toStdout) {
        await new Promise<void>((resolve) => process.stdout.write(audio, () => resolve()));
      } else {
        const ext = SPEECH_EXTENSIONS[mediaType.toLowerCase().split(";")[0].trim()] ?? o.format ?? "mp3";
        file = target?.file ?? join(target?.dir ?? "", `speech.${ext}`);
        try {
          writeFileSync(file, audio);
        } catch (err) {
          throw failure(`writing ${file}: ${(err as Error).message}`, "check the --output path and its permissions");
        }
      }
      if (mode === "json") {
        // The API's own JSON form, with the audio's bytes replaced by the file they were written to.
        const { audio: _bytes, ...api } = toJson(SpeakResponseSchema, response) as Record<string, unknown>;
        return json({ ...api, file, bytes: audio.length });
      }
      const u = response.usage;
      const summary = responseSummary(
        [
          servedBy(response),
          `${count(audio.length)} bytes${mediaType ? ` ${mediaType}` : ""}`,
          u?.characters ? `${count(u.characters)} characters` : "",
          u?.totalTokens ? `${count(u.totalTokens)} tokens` : "",
        ],
        response,
      );
      // Like `signalbox image`: the file's path first on stdout (`cut -f1` keeps it), then who
      // made it and what it cost; with the audio on stdout, that summary goes to stderr.
      if (toStdout) note(`— ${summary}`);
      else await out(`${file}\t${summary}\n`);
    });
}

/**
 * Where `-o` points: an existing directory, or a path ending in "/", is a directory (speech.<ext>
 * is written in it); anything else is a file in a directory that must exist. Checked before
 * anything is sent, so a typo costs nothing.
 */
function outTarget(path: string): { dir?: string; file?: string } {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (path === "") throw usageError("-o/--output: empty path", "pass a file name, a directory, or - for stdout");
  if (/[/\\]$/.test(path) || isDir(path)) {
    if (!isDir(path)) throw usageError(`-o/--output ${path}: no such directory`, "create it first, or pass an existing directory");
    return { dir: path };
  }
  if (!isDir(dirname(path))) throw usageError(`-o/--output ${path}: no such directory: ${dirname(path)}`, "create it first, or pass a path in an existing directory");
  return { file: path };
}
