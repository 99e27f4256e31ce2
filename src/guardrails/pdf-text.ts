// The text of a PDF, for the input guardrails: pdf.js through unpdf, loaded the first time a
// guardrail has a PDF to read (a gateway that never meets one never loads it). pdf.js takes over
// the buffer it is given, so it gets a copy: the bytes sent upstream stay as the caller sent them.

/** A PDF's text, or why it could not be read (encrypted, damaged, not a PDF after all). */
export type PdfText = { text: string; pages: number } | { error: string };

let unpdf: Promise<typeof import("unpdf")> | undefined;

export async function pdfText(data: Uint8Array): Promise<PdfText> {
  try {
    const { extractText, getDocumentProxy } = await (unpdf ??= import("unpdf"));
    const pdf = await getDocumentProxy(new Uint8Array(data), { stopAtErrors: true, verbosity: 0 });
    try {
      const { text, totalPages } = await extractText(pdf, { mergePages: true });
      return { text, pages: totalPages };
    } finally {
      await pdf.loadingTask.destroy();
    }
  } catch (err) {
    const e = err as Error;
    return { error: e?.name === "PasswordException" ? "the PDF is encrypted" : "the PDF could not be read" };
  }
}
