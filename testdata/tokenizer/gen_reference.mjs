// gen_reference.mjs writes, to a JSON-lines file outside the repository, texts that the tokenizer tests never
// see and tiktoken's gpt2 ids for them: every file of the npm packages below and of parts of GOROOT, a sweep of
// every Unicode scalar value in the places where the pre-tokenizer's classes matter, and 200,000 random strings
// from an alphabet of troublesome pieces. The opt-in test TestReferenceFile compares with it:
//
//	cd /tmp/tokref   # as for gen_golden.mjs, with the same packages installed
//	node /work/main/testdata/tokenizer/gen_reference.mjs /tmp/tokref/reference.jsonl "$(go env GOROOT)"
//	cd /work/main && go test ./tokenizer -run TestReferenceFile -reference /tmp/tokref/reference.jsonl -v
//
// About 100 MB of text, 60 M tokens, 360 MB of output; 40 s to write, 25 s to check.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [outPath, goroot] = process.argv.slice(2);
if (!outPath || !goroot) {
  console.error("usage: node gen_reference.mjs OUT.jsonl GOROOT (run in the directory holding node_modules)");
  process.exit(2);
}
const require = createRequire(path.join(process.cwd(), "noop.js"));
const { get_encoding } = require("tiktoken");
const tk = get_encoding("gpt2");
const out = fs.openSync(outPath, "w");
let n = 0, bytes = 0;
function add(name, text) {
  const ids = Array.from(tk.encode_ordinary(text));
  fs.writeSync(out, JSON.stringify({ name, text, ids }) + "\n");
  n++;
  bytes += Buffer.byteLength(text);
}
// Valid UTF-8 text files only: tiktoken takes strings.
function walk(dir, re) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, re);
    else if (re.test(e.name) && fs.statSync(p).size < 2e6 && !/encoder\.json|ranks|encoders/.test(p)) {
      const b = fs.readFileSync(p);
      const s = b.toString("utf8");
      if (Buffer.from(s, "utf8").equals(b)) add(p, s);
    }
  }
}
walk("node_modules", /\.(txt|html|js|mjs|cjs|md|ts|json)$/);
for (const sub of ["src/net", "src/go", "src/cmd/compile/internal/ssa", "src/unicode", "src/html", "src/text",
  "src/regexp", "src/strconv", "src/time", "doc", "src/encoding"]) {
  walk(path.join(goroot, sub), /\.(go|s|txt|md|html)$/);
}
// Every scalar value, 64 to a record.
for (let base = 0; base < 0x110000; base += 64) {
  let s = "";
  for (let cp = base; cp < base + 64; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    s += `a${c}b ${c}${c} ${c}1 '${c} !${c}\n`;
  }
  add(`sweep_${base.toString(16)}`, s);
}
// Random strings (xorshift64, fixed seed).
let x = 88172645463325252n;
const M = 0xffffffffffffffffn;
function rnd(k) {
  x ^= (x << 13n) & M;
  x ^= x >> 7n;
  x ^= (x << 17n) & M;
  return Number(x % BigInt(k));
}
const alphabet = [" ", " ", " ", "  ", "\n", "\n\n", "\r\n", "\t", "a", "e", "Z", "s", "t", "re", "ll", "'", "'",
  "0", "9", "12", ".", ",", "!", "?", "-", "_", "é", "ß", "中", "日本", "😀", "👨‍👩‍👧", "\u200d", "\u0301",
  "\u00a0", "\u3000", "\u0085", "\ufeff", "\u2028", "\u001c", "\u0000", "½", "٣", "Ⅻ", "<|endoftext|>", "ـ",
  "ก", "ि", "\ufffd", "𝔘", "🇺", "ǅ", "ʰ"];
for (let i = 0; i < 200000; i++) {
  let s = "";
  for (let j = 1 + rnd(24); j > 0; j--) s += alphabet[rnd(alphabet.length)];
  add(`random_${i}`, s);
}
fs.closeSync(out);
console.error(`${n} records, ${bytes} bytes`);
