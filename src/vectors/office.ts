// The text of Word and PowerPoint documents (.docx, .pptx: zip archives of XML), for vector
// stores: a document's paragraphs (w:p) and their runs' text (w:t), tabs and breaks kept; a
// presentation's slides in order, each slide's paragraphs (a:p, a:t), then its notes. Read with
// fflate (the archive) and a scan of the XML for the text elements: styles, images and fields'
// codes are left out, as a text layer would leave them.

import { unzipSync } from "fflate";

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** XML text with its entities decoded (named, decimal and hex). */
function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] === "#") {
      const n = e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e] ?? m;
  });
}

/** The text of one XML part: each paragraph (`<p:p>` of the given prefix) a line, its text runs joined. */
function paragraphs(xml: string, ns: "w" | "a"): string {
  const out: string[] = [];
  const para = new RegExp(`<${ns}:p[\\s>][\\s\\S]*?</${ns}:p>|<${ns}:p/>`, "g");
  const piece = new RegExp(`<${ns}:t(?:\\s[^>]*)?>([\\s\\S]*?)</${ns}:t>|<${ns}:tab/>|<${ns}:br/>`, "g");
  for (const p of xml.match(para) ?? []) {
    let line = "";
    for (const m of p.matchAll(piece)) line += m[1] !== undefined ? decode(m[1]) : m[0].includes("tab") ? "\t" : "\n";
    out.push(line);
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

const slideNumber = (name: string) => Number(/(\d+)\.xml$/.exec(name)?.[1] ?? 0);

/** A .docx's or .pptx's text; an error when the archive cannot be read. */
export function officeText(bytes: Uint8Array): { text: string; kind: "docx" | "pptx" } | { error: string } {
  let parts: Record<string, Uint8Array>;
  try {
    parts = unzipSync(bytes, { filter: (f) => f.name === "word/document.xml" || /^ppt\/(slides\/slide|notesSlides\/notesSlide)\d+\.xml$/.test(f.name) || f.name === "ppt/presentation.xml" });
  } catch (err) {
    return { error: `the archive could not be read (${(err as Error).message})` };
  }
  const utf8 = new TextDecoder();
  const doc = parts["word/document.xml"];
  if (doc) return { kind: "docx", text: paragraphs(utf8.decode(doc), "w") };
  if (!parts["ppt/presentation.xml"]) return { error: "a zip archive that is not a Word or PowerPoint document" };
  const slides = Object.keys(parts)
    .filter((n) => n.startsWith("ppt/slides/"))
    .sort((a, b) => slideNumber(a) - slideNumber(b));
  const text = slides
    .map((n) => {
      const notes = parts[`ppt/notesSlides/notesSlide${slideNumber(n)}.xml`];
      const body = paragraphs(utf8.decode(parts[n]), "a");
      return notes ? `${body}\n\n${paragraphs(utf8.decode(notes), "a")}` : body;
    })
    .filter((t) => t.trim())
    .join("\n\n");
  return { kind: "pptx", text };
}
