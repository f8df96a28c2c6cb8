// check_hf.mjs encodes the golden texts with Hugging Face's tokenizers.js (@huggingface/tokenizers 0.2.0, a
// JavaScript port of HF tokenizers) from a tokenizer.json, to check that files written by Save read back in HF
// with the same ids. It writes JSON lines for TestReferenceFile:
//
//	cd /work/main && go test ./tokenizer -run 'TestTrain$' -save-trained /tmp/tokref/trained.json
//	cd /tmp/tokref && npm install @huggingface/tokenizers@0.2.0
//	node /work/main/testdata/tokenizer/check_hf.mjs /tmp/tokref/trained.json /tmp/tokref/hf.jsonl
//	cd /work/main && go test ./tokenizer -run TestReferenceFile -reference /tmp/tokref/hf.jsonl \
//	  -reference-tokenizer /tmp/tokref/trained.json -v
//
// Texts with "<|endoftext|>", U+0085 or U+FEFF are left out: HF always splits out added tokens (Encode never
// does; EncodeWithSpecial does), and tokenizers.js runs the pattern as a JavaScript regex, whose \s takes U+FEFF
// and not U+0085, unlike the Rust HF tokenizers and tiktoken.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const [tokPath, outPath] = process.argv.slice(2);
if (!tokPath || !outPath) {
  console.error("usage: node check_hf.mjs TOKENIZER.json OUT.jsonl (run where @huggingface/tokenizers is installed)");
  process.exit(2);
}
const require = createRequire(path.join(process.cwd(), "noop.js")); // packages from the working directory
const { Tokenizer } = require("@huggingface/tokenizers");
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tokPath, "utf8")), {});
const golden = path.join(path.dirname(fileURLToPath(import.meta.url)), "golden.jsonl.gz");
const records = zlib.gunzipSync(fs.readFileSync(golden)).toString("utf8").trim().split("\n").map(JSON.parse);
const out = [];
for (const r of records) {
  if (r.special || /<\|endoftext\|>|\u0085|\ufeff/.test(r.text)) continue;
  const ids = tok.encode(r.text, { add_special_tokens: false }).ids;
  out.push(JSON.stringify({ name: r.name, text: r.text, ids }));
}
fs.writeFileSync(outPath, out.join("\n") + "\n");
console.error(`${out.length} records`);
