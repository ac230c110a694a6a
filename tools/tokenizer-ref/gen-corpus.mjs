// Writes tests/fixtures/tokenizer/corpus.jsonl: the tokenizer test strings, one JSON record a line:
//   {"i": N, "cat": CATEGORY, "text": "..."}   valid Unicode text
//   {"i": N, "cat": CATEGORY, "hex": "..."}    raw bytes that are NOT valid UTF-8
// Deterministic: every random choice comes from one seeded PRNG, and the natural-language samples come
// from the fixed files under /work/shared/datasets. Usage: node gen-corpus.mjs [OUT]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const out = process.argv[2] ?? path.join(repo, "tests/fixtures/tokenizer/corpus.jsonl");
const datasets = process.env.G4_DATASETS ?? "/work/shared/datasets";

// mulberry32: tiny, well-known, and identical on every platform.
let seed = 0x6e6d4a34;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const cp = (...xs) => String.fromCodePoint(...xs);
const range = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, k) => cp(lo + k));

const records = [];
const seen = new Set();
function addText(cat, text) {
  const key = "t" + text;
  if (seen.has(key)) return;
  seen.add(key);
  records.push({ cat, text });
}
function addHex(cat, bytes) {
  const buf = Buffer.from(bytes);
  if (Buffer.from(buf.toString("utf8"), "utf8").equals(buf))  // round-trips only when valid
    throw new Error("hex record is valid UTF-8: " + buf.toString("hex"));
  const key = "h" + buf.toString("hex");
  if (seen.has(key)) return;
  seen.add(key);
  records.push({ cat, hex: buf.toString("hex") });
}

// ---- character pools per script -------------------------------------------------------------------
const pools = {
  latin: [...range(0x61, 0x7a), ...range(0x41, 0x5a)],
  latin_accents: [...range(0xc0, 0xff).filter((c) => c !== "×" && c !== "÷"), ...range(0x100, 0x17f)],
  cyrillic: range(0x410, 0x44f),
  greek: [...range(0x391, 0x3a1), ...range(0x3a3, 0x3a9), ...range(0x3b1, 0x3c9), ...range(0x3ac, 0x3af)],
  arabic: [...range(0x621, 0x63a), ...range(0x641, 0x64a), ...range(0x64b, 0x652)],
  hebrew: [...range(0x5d0, 0x5ea), ...range(0x5b0, 0x5bc)],
  devanagari: [...range(0x905, 0x939), ...range(0x93e, 0x94d), "\u0902", "\u0903"],
  thai: [...range(0xe01, 0xe2e), ...range(0xe30, 0xe3a), ...range(0xe40, 0xe4e)],
  cjk: range(0x4e00, 0x4fff),
  cjk_rare: [...range(0x9f00, 0x9fff), ...range(0x20000, 0x2003f), ...range(0x3400, 0x343f)],
  hangul: range(0xac00, 0xae00),
  hiragana: range(0x3041, 0x3096),
  katakana: range(0x30a1, 0x30fa),
  combining: range(0x300, 0x36f),
  emoji: [...range(0x1f600, 0x1f64f), ...range(0x1f300, 0x1f3ff), ...range(0x1f900, 0x1f9ff), ...range(0x2600, 0x26ff)],
  symbols: [...range(0x2190, 0x21ff), ...range(0x2200, 0x22ff), ...range(0x20a0, 0x20c0), ...range(0x2500, 0x257f)],
  punct: [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "…", "—", "–", "«", "»", "„", "“", "”", "‘", "’", "¿", "¡", "·", "•", "、", "。", "「", "」", "！", "？", "،", "؟", "।"],
  digits: [...range(0x30, 0x39), ...range(0x660, 0x669), ...range(0x966, 0x96f), ...range(0xff10, 0xff19)],
  space: [" ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\u200b", "\u202f"],
};
function word(pool, lo = 1, hi = 8) {
  let w = "";
  for (let n = randInt(lo, hi); n > 0; --n) w += pick(pool);
  return w;
}
function sentence(poolNames, words) {
  const parts = [];
  for (let k = 0; k < words; ++k) {
    parts.push(word(pools[pick(poolNames)]));
    parts.push(rand() < 0.15 ? pick(pools.punct) + " " : rand() < 0.1 ? pick(pools.space) : " ");
  }
  return parts.join("").trimEnd();
}

// ---- hand-written cases -----------------------------------------------------------------------------
const g4special = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<|tool>", "<tool|>", "<|tool_call>",
  "<tool_call|>", "<|tool_response>", "<tool_response|>", '<|"|>', "<|think|>", "<|channel>", "<channel|>",
  "<|turn>", "<turn|>", "<|image>", "<|audio>", "<|image|>", "<|audio|>", "<image|>", "<audio|>", "<|video|>"];
const g3names = ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
  "<image_soft_token>", "<unused0>", "<unused40>", "<unused99>", "<unused2978>", "<unused6241>", "<unused6242>"];
const fixed = {
  edge: ["", " ", "  ", "\n", "\n\n", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", "\t", "\r\n", "\r", "a", "A", ".", "▁", "▁▁", " ▁ ", "▁the", " the", "the", "The", " The",
    "\u0000", "\u0000abc\u0000", "\u0007\u001b[31mred\u001b[0m", "\u007f", "\u00ad", "\ufeff", "\ufeffHello", "\ufffd", "\u200b\u200c\u200d", "\u2028\u2029",
    "\uE000\uF8FF", cp(0x10ffff), cp(0xfffe) + cp(0xffff), cp(0x1d11e), "ﬁ ﬂ ﬀ", "Ⅻ ½ ² ³ ㎏ ™"],
  combining: ["e\u0301", "cafe\u0301", "café", "cafe\u0301 vs café", "a\u0300\u0301\u0302\u0303\u0304", "Z\u0351\u0367\u0311\u0310\u0352\u035a\u0318a\u0354l\u0357g\u0366o",
    "n\u0303o", "A\u030a", "Å Å Å", "\u0301", "\u0301\u0301\u0301 leading marks", "ก\u0e48\u0e49", "क\u094d\u0937", "각 = \u1100\u1161\u11a8", "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd"],
  emoji: ["😀", "👍🏽", "👨‍👩‍👧‍👦", "👩🏾‍💻", "🏳️‍🌈", "🇫🇷🇩🇪🇯🇵", "🇺🇳", "❤️", "❤\ufe0f‍🔥", "1️⃣ #️⃣", "🧑🏻‍🤝‍🧑🏿", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "I ❤️ NY 🗽!!", "👋🏻👋🏼👋🏽👋🏾👋🏿", "🤷‍♂️🤷‍♀️", "😂😂😂😂😂😂😂😂😂😂"],
  whitespace: ["a  b", "a   b    c", "   leading", "trailing   ", "tab\tseparated\tvalues", "\t\t\tindent", "line1\nline2", "line1\r\nline2\r\n", "para1\n\n\npara2",
    "nbsp\u00a0here", "ideographic\u3000space", "mixed \t \n \r\n \u00a0 \u3000 end", " ".repeat(40), "\t".repeat(33), "\n".repeat(31), "\r\n".repeat(10), " \n".repeat(12)],
  code: [
    "#include <stdio.h>\nint main(void) {\n    printf(\"Hello, world!\\n\");\n    return 0;\n}\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "class Foo(Bar):\n\tdef __init__(self, x: int = 3) -> None:\n\t\tself.x = x  # comment\n",
    "import numpy as np\nx = np.linspace(0, 1, 100)\nprint(f\"{x.mean():.3f}\")",
    "{\"name\": \"gemma\", \"size\": 12, \"tags\": [\"a\", \"b\"], \"nested\": {\"ok\": true, \"v\": null}}",
    "[{\"id\":1},{\"id\":2,\"x\":-3.5e-7}]",
    "<!DOCTYPE html>\n<html><head><title>T</title></head><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "<table>\n<tr><th>Name</th><th>Age</th></tr>\n<tr><td>Ann</td><td>31</td></tr>\n</table>",
    "<table><thead><tr><td>a</td></tr></thead><tbody></tbody></table>",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "const f = async (x) => { await g(x?.y ?? 0); return `t=${x}`; };",
    "$ ls -la | grep '\\.txt$' && echo \"done\" > /dev/null 2>&1",
    "```python\nprint('hi')\n```",
    "    four spaces\n        eight spaces\n\t\ttwo tabs",
    "x<<=2; y>>>=1; z!==w; a&&b||c; p->q; ::std::vector<int>{}",
    "\\begin{equation} E = mc^2 \\quad \\int_0^\\infty e^{-x^2} dx = \\frac{\\sqrt{\\pi}}{2} \\end{equation}",
  ],
  numbers: ["0", "1", "12", "123", "1234", "12345", "123456789012345678901234567890", "3.14159265358979", "-0.000001", "1e-10", "6.022e23", "1,000,000", "1.000.000,50",
    "2024-01-31", "31/12/1999", "12:34:56.789", "2026-07-09T12:00:00Z", "+1 (555) 010-9999", "$19.99", "€5,50", "¥1000", "50%", "0x1F3A", "0b1011", "١٢٣٤٥", "१२३४५", "１２３", "Ⅳ", "3½", "10^9", "v1.2.3-rc.4"],
  long: ["a".repeat(500), "ab".repeat(300), "Supercalifragilisticexpialidocious".repeat(20), "ー".repeat(100), "😀".repeat(100), "=".repeat(200), "-".repeat(120), "_".repeat(77), ".".repeat(64),
    "https://example.com/a/very/long/path/with/many/segments/" + "segment/".repeat(30) + "index.html?query=" + "x".repeat(80) + "&lang=en#frag",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz", "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==".repeat(4)],
  punctuation: ["Hello, world!", "Wait... what?!", "«Bonjour», dit-il — « ça va ? »", "„Guten Tag“, sagte sie.", "He said: \"no\"; she said: 'yes'.", "¿Qué? ¡Sí!", "a/b\\c|d", "((([[[{{{}}}]]])))", "!!!???...,,,;;;:::",
    "e.g., i.e., etc.", "100% — not 99.9%!", "→ ← ↑ ↓ ⇒ ∀x∃y: x≠y", "“smart” ‘quotes’", "#hashtag @mention", "email: john.doe+tag@example.co.uk"],
};
for (const [cat, xs] of Object.entries(fixed)) for (const x of xs) addText(cat, x);

// Special-token text, Gemma 4 and Gemma 3 names, as template text and inside user text.
for (const t of [...g4special, ...g3names]) {
  addText("special", t);
  addText("special", "x" + t + "y");
  addText("special", " " + t + " ");
  addText("special", t + t);
  addText("special", t.slice(0, -1));  // a prefix must not match
  addText("special", t.slice(1));
}
addText("special", "<|turn>user\nHello!<turn|>\n<|turn>model\n");
addText("special", "<bos><|turn>system\n<|think|>\nYou are helpful.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
addText("special", '<|tool>declaration:get_weather{description:<|"|>Weather<|"|>,parameters:{properties:{city:{type:<|"|>STRING<|"|>}},required:[<|"|>city<|"|>],type:<|"|>OBJECT<|"|>}}<tool|>');
addText("special", '<|tool_call>call:get_weather{city:<|"|>Paris<|"|>}<tool_call|><|tool_response>response:get_weather{temp:21}<tool_response|>');
addText("special", "<|turn>user\n<|image|><|audio|><|video|> describe<turn|>\n");
addText("special", "<|image><|image|><|image|><image|><|audio><|audio|><audio|>");
addText("special", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
addText("special", "<|turn|> <|turn <turn> <|tool_call|> <|think> <think|> <||> <|> <|\"|> <| \"|>");
addText("special", "<<|turn>>  <<<pad>>>  <eos<eos>>");
addText("special", "<|TURN> <Turn|> ＜|turn＞");
addText("special", "▁<|turn>▁user▁<turn|>");
for (let k = 0; k < 60; ++k) {
  let s = "";
  for (let n = randInt(2, 8); n > 0; --n)
    s += rand() < 0.5 ? pick([...g4special, ...g3names]) : sentence(["latin", "cjk", "cyrillic"], randInt(1, 4)) + pick(["", " ", "\n", "\n\n"]);
  addText("special", s);
}
// Literal ▁ (U+2581): must be kept apart from the space it stands for.
for (const x of ["▁▁▁", "a▁b", "▁ ▁ ▁", "word▁", "▁▁hello▁▁world", "▁\n▁\t▁", "▁" + "▁".repeat(40), "the▁quick brown▁fox"]) addText("lowline", x);
for (let k = 0; k < 30; ++k) addText("lowline", sentence(["latin", "cyrillic"], randInt(2, 6)).replace(/ /g, () => (rand() < 0.5 ? "▁" : " ")));
// HTML-ish added tokens live in the Gemma vocabulary (e.g. <table>, <tr>).
for (const tag of ["table", "tr", "td", "th", "thead", "tbody", "div", "span", "p", "br", "h1", "ul", "li", "a", "img", "b", "i"]) {
  addText("html", `<${tag}>x</${tag}>`);
  addText("html", `<${tag} class="c">\n  text\n</${tag}>`);
}

// ---- random text per script, mixed scripts, whitespace runs ------------------------------------------
const scripts = ["latin", "latin_accents", "cyrillic", "greek", "arabic", "hebrew", "devanagari", "thai", "cjk", "cjk_rare", "hangul", "hiragana", "katakana"];
for (const s of scripts) for (let k = 0; k < 45; ++k) addText("script_" + s, sentence([s], randInt(1, 12)));
for (let k = 0; k < 200; ++k) addText("mixed", sentence([...scripts, "emoji", "symbols", "digits"], randInt(2, 16)));
for (let k = 0; k < 80; ++k) {
  let s = "";
  for (let n = randInt(1, 10); n > 0; --n) s += pick(pools.space).repeat(randInt(1, 6)) + (rand() < 0.7 ? word(pools.latin, 1, 5) : "");
  addText("whitespace_rand", s);
}
for (let k = 0; k < 80; ++k) {
  let s = "";
  for (let n = randInt(1, 10); n > 0; --n) s += pick([...pools.latin, ...pools.cyrillic]) + word(pools.combining, 1, 4);
  addText("combining_rand", s);
}
const zwjParts = ["👨", "👩", "🧑", "👧", "👦", "❤️", "💋", "🔥", "💻", "🚀", "🌾", "🍳"];
const tones = ["🏻", "🏼", "🏽", "🏾", "🏿", ""];
const flags = ["🇺🇸", "🇬🇧", "🇯🇵", "🇧🇷", "🇮🇳", "🇿🇦", "🇰🇷", "🇪🇺"];
for (let k = 0; k < 80; ++k) {
  const parts = [];
  for (let n = randInt(1, 6); n > 0; --n) {
    const r = rand();
    if (r < 0.3) parts.push(pick(zwjParts) + pick(tones) + "\u200d" + pick(zwjParts));
    else if (r < 0.5) parts.push(pick(flags));
    else if (r < 0.7) parts.push(pick(pools.emoji) + pick(tones));
    else parts.push(word(pools.latin, 1, 6));
    parts.push(rand() < 0.5 ? " " : "");
  }
  addText("emoji_rand", parts.join(""));
}
for (let k = 0; k < 60; ++k) {
  const d = () => String(randInt(0, 9999)).padStart(randInt(1, 4), "0");
  addText("numbers_rand", pick([`${d()}-${d()}-${d()}`, `${randInt(0, 1e9)}`, `${rand() * 1e6}`, `${d()}.${d()}`, `v${d()}.${d()}`, `${d()}/${d()}/${d()} ${d()}:${d()}`, `(${d()}) ${d()}-${d()}`, `${randInt(1, 99)}%`, `${d()}${pick(["km", "kg", " ms", "GB", "°C"])}`]));
}
for (let k = 0; k < 30; ++k) addText("long_rand", word(pick([pools.latin, pools.cjk, pools.hangul, pools.cyrillic, pools.digits]), 200, 1200));
for (let k = 0; k < 20; ++k) addText("url_rand", `https://${word(pools.latin, 3, 12)}.${pick(["com", "org", "io", "de"])}/${Array.from({ length: randInt(1, 12) }, () => word(pools.latin, 1, 15)).join("/")}?${word(pools.latin, 1, 5)}=${word([...pools.latin, ...pools.digits], 5, 60)}`);

// ---- natural text: haystack books and MMLU questions (seeded sampling) -------------------------------
function sampleLines(file, count, cat, maxLines) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  for (let k = 0; k < count; ++k) {
    const at = randInt(0, lines.length - 1);
    addText(cat, lines.slice(at, at + randInt(1, maxLines)).join("\n"));
  }
  addText(cat, lines.slice(0, 3).join("\n"));  // keeps a BOM where the file has one
}
const hay = path.join(datasets, "haystack");
for (const f of fs.readdirSync(hay).filter((f) => f.endsWith(".txt")).sort()) sampleLines(path.join(hay, f), 110, "haystack", 8);
const mmlu = path.join(datasets, "mmlu/test");
for (const f of fs.readdirSync(mmlu).filter((f) => f.endsWith(".csv")).sort()) sampleLines(path.join(mmlu, f), 12, "mmlu", 1);

// ---- invalid UTF-8 ----------------------------------------------------------------------------------
const asc = (s) => [...Buffer.from(s, "utf8")];
const badFixed = [
  [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3],
  [...asc("abc"), 0xff, ...asc("def")], [...asc("caf"), 0xc3], [0xc3, ...asc(" trailing")], [0xef, 0xbb, 0xbf, 0x41, 0xff],
  [0xe2, 0x82, ...asc("A"), 0xe2], [0xf0, 0x9f, 0x98, 0x80, 0x80], [0x80, 0x80, 0x80, 0x80], [0xc0, 0x80], [0xe0, 0xa0],
  [...asc("<|turn>"), 0xfe, ...asc("<turn|>")], [...asc("▁"), 0x81, ...asc(" ▁")],
];
for (const b of badFixed) addHex("invalid_utf8", b);
const badPieces = [[0x80], [0xbf], [0xc0], [0xc1], [0xc2], [0xe0], [0xe0, 0x9f], [0xed, 0xa0], [0xf0], [0xf0, 0x8f], [0xf4, 0x90], [0xf5], [0xfe], [0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98]];
while (records.filter((r) => r.hex).length < 140) {
  const bytes = [];
  for (let n = randInt(1, 8); n > 0; --n) {
    const r = rand();
    if (r < 0.4) bytes.push(...pick(badPieces));
    else if (r < 0.8) bytes.push(...asc(sentence([pick(scripts)], randInt(1, 3))));
    else bytes.push(...asc(pick([...g4special, " ", "\n", "😀"])));
  }
  if (Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(Buffer.from(bytes))) continue;
  addHex("invalid_utf8", bytes);
}

fs.mkdirSync(path.dirname(out), { recursive: true });
const lines = records.map((r, i) => JSON.stringify(r.hex !== undefined ? { i, cat: r.cat, hex: r.hex } : { i, cat: r.cat, text: r.text }));
fs.writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${records.length} records (${records.filter((r) => r.hex).length} invalid UTF-8) to ${out}`);
