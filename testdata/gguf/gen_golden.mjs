// gen_golden.mjs exports the test models of the repository to GGUF with llmtune (go build ./cmd/llmtune), loads
// each file in llama.cpp through the npm package node-llama-cpp, and writes golden.json: llama.cpp's token ids
// for a set of texts, and its greedy continuations of a set of prompts, for every model, dtype and adapter. The Go
// tests (cmd/llmtune/export_test.go) export the same models in-process, check that the files are byte for byte
// those llama.cpp read (sha256), and compare llama.cpp's ids with llmtune's. They never run node.
//
// How it was run (Node.js 20), from a scratch directory outside the repository:
//
//	mkdir /tmp/nlc && cd /tmp/nlc && npm init -y && npm install -E node-llama-cpp@3.21.1
//	LLAMA_DEMO_F16_CACHE=1 node /path/to/repo/testdata/gguf/gen_golden.mjs /path/to/repo
//
// It needs Go on the PATH and took 10 minutes on a busy 2-core machine, nearly all of it the demo's 300
// translations in 11 configurations. node-llama-cpp ships prebuilt llama.cpp binaries
// (getLlama({build: "never"}) uses them, on the CPU). The contexts use one thread (more threads spin-wait on a
// busy 2-core machine and take seconds a token), an F32 KV cache and no flash attention, so that the only
// rounding llama.cpp adds to an F32 model is its own float arithmetic: with the default F16 cache, near-ties
// between two tokens can flip. LLAMA_DEMO_F16_CACHE=1 adds a run of the demo with the default F16 cache.

import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [repo, outPath = path.join(repo ?? "", "testdata/gguf/golden.json")] = process.argv.slice(2);
if (!repo) {
  console.error("usage: node gen_golden.mjs REPO [OUT.json] (run in the directory holding node_modules)");
  process.exit(2);
}
// GGUF_GOLDEN_CASES=gpt2,qwen2 limits the run to those cases (the live Go test uses it).
const only = process.env.GGUF_GOLDEN_CASES ? process.env.GGUF_GOLDEN_CASES.split(",") : null;
const require = createRequire(path.join(process.cwd(), "noop.js"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));
const nlcVersion = JSON.parse(fs.readFileSync(path.join(process.cwd(), "node_modules/node-llama-cpp/package.json"))).version;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gguf-golden-"));
const bin = path.join(tmp, "llmtune");
execFileSync("go", ["build", "-o", bin, "./cmd/llmtune"], { cwd: repo, stdio: "inherit" });

// Texts whose token ids llama.cpp gives: the tokenizer is part of the GGUF file.
const texts = [
  "Hello world",
  " Hello world",
  "  two leading spaces",
  "The quick brown fox jumps over the lazy dog.",
  "I've been told he's there, you're sure? I'LL make it; we'D like tea.",
  "line one\nline two\n\nline four\r\nend",
  "tabs\tand\t\tspaces   here  ",
  "numbers: 1 12 123 1234 12345 3.14159 1,000,000",
  "¿Dónde está la biblioteca? Está en la ciudad.",
  "El niño comió piñas y jalapeños; ¡qué rico!",
  "naïve café résumé Zoë",
  "emoji 🦙🚀 and ✅ done",
  "中文 日本語 한국어",
  "Здравствуй, мир",
  "symbols !!! ??? ... --- === ((())) [x] {y}",
  "<|endoftext|> and <s> </s> stay text",
  "a",
  "",
  "   ",
  "\n",
  "CamelCaseWords and snake_case_words and kebab-case-words",
  "https://example.com/path?query=1&x=2#frag",
  "THE INTERNATIONAL ECONOMY A growing defense effort",
  "Mr. Speaker, Mr. President, distinguished Members of the Congress",
];
const prompts = [
  "Hello world",
  "The quick brown fox",
  "English: The house is red.\nSpanish:",
  "numbers 1 2 3",
  "¿Qué tal?",
  "Once upon a time",
  "I've been there",
  "a",
];
const dtypes = ["f32", "f16", "bf16", "q8_0"];
const cases = [
  { name: "gpt2", model: "testdata/tiny", adapters: ["testdata/reference/peft-r3", "testdata/reference/peft-r2-rslora"] },
  { name: "llama-spm", model: "testdata/llama/tiny-llama", tokenizer: "testdata/gguf/spm", adapters: ["testdata/llama/peft-llama-r4"] },
  { name: "qwen2", model: "testdata/llama/tiny-qwen2", tokenizer: "testdata/gguf/qwen2", adapters: ["testdata/gguf/qwen2-lora"] },
  { name: "llama-bpe", model: "testdata/llama/tiny-llama", tokenizer: "testdata/gguf/llama3", adapters: [] },
  { name: "smollm", model: "testdata/llama/tiny-llama", tokenizer: "testdata/gguf/smollm", adapters: [] },
  { name: "demo", model: "testdata/demo/base", adapters: ["testdata/gguf/demo-adapter"], translate: true },
];
const newTokens = 16; // per prompt, for the tiny models
const translateMax = 64; // the demo recipe's generation.max_new_tokens

function translatePrompts() {
  const lines = fs.readFileSync(path.join(repo, "testdata/demo/translate/test.jsonl"), "utf8").trim().split("\n");
  return lines.map((l) => "English: " + JSON.parse(l).source + "\nSpanish: ");
}

function exportFile(args, out) {
  execFileSync(bin, [...args, "--out", out], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] });
  const data = fs.readFileSync(out);
  return { size: data.length, sha256: crypto.createHash("sha256").update(data).digest("hex") };
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const ctxOptions = (extra) => ({
  contextSize: 512, threads: 1, flashAttention: false,
  experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", ...extra,
});

// run loads a model file (and LoRA adapter files) and returns the greedy continuations of prompts, each with the
// five most probable first tokens and their probabilities; translate stops at a newline or an end-of-generation
// token, as llmtune generate with the demo recipe (stop "\n") does.
async function run(modelPath, loras, promptList, { translate = false, f16Cache = false } = {}) {
  const model = await llama.loadModel({ modelPath });
  const extra = loras.length ? { lora: { adapters: loras.map((filePath) => ({ filePath })) } } : {};
  if (f16Cache) Object.assign(extra, { experimentalKvCacheKeyType: "F16", experimentalKvCacheValueType: "F16" });
  const ctx = await model.createContext(ctxOptions(extra));
  const seq = ctx.getSequence();
  const bos = model.tokens.shouldPrependBosToken ? [model.tokens.bos] : [];
  const out = [];
  for (const p of promptList) {
    await seq.clearHistory();
    const ids = [...bos, ...model.tokenize(p)];
    const gen = [];
    let top = null;
    for await (const r of seq.evaluateWithMetadata(ids, { probabilities: gen.length === 0 }, { temperature: 0 })) {
      if (top === null && r.probabilities) top = [...r.probabilities.entries()].slice(0, 5).map(([t, pr]) => [t, pr]);
      if (translate && model.isEogToken(r.token)) break;
      gen.push(r.token);
      if (gen.length >= (translate ? translateMax : newTokens)) break;
      if (translate && model.detokenize(gen).includes("\n")) break;
    }
    out.push({ prompt: ids, ids: gen, top });
  }
  await ctx.dispose();
  await model.dispose();
  return out;
}

async function tokenize(modelPath, list) {
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  const ids = list.map((t) => model.tokenize(t));
  await model.dispose();
  return ids;
}

const golden = {
  generator: `node-llama-cpp ${nlcVersion} (llama.cpp ${llama.llamaCppRelease.release}), CPU, 1 thread, F32 KV cache`,
  texts,
  prompts,
  new_tokens: newTokens,
  cases: [],
};
for (const c of cases) {
  if (only && !only.includes(c.name)) continue;
  if (c.adapters.some((a) => !fs.existsSync(path.join(repo, a)))) {
    console.error(`${c.name}: adapter missing, skipped`);
    continue;
  }
  const base = ["export", "--model", c.model, ...(c.tokenizer ? ["--tokenizer", c.tokenizer] : [])];
  const promptList = c.translate ? translatePrompts() : prompts;
  const gc = { name: c.name, model: c.model, tokenizer: c.tokenizer ?? c.model, translate: !!c.translate, runs: [] };
  for (const dtype of dtypes) {
    const file = path.join(tmp, `${c.name}-${dtype}.gguf`);
    const info = exportFile([...base, "--dtype", dtype], file);
    if (dtype === "f32") {
      gc.tokens = await tokenize(file, c.translate ? [...texts, ...promptList] : texts);
    }
    const t0 = Date.now();
    gc.runs.push({ dtype, adapter: "", lora: false, ...info, results: await run(file, [], promptList, c) });
    if (c.translate && dtype === "f32" && process.env.LLAMA_DEMO_F16_CACHE) {
      gc.runs.push({ dtype, adapter: "", lora: false, f16_cache: true, ...info, results: await run(file, [], promptList, { ...c, f16Cache: true }) });
    }
    for (const a of c.adapters) {
      const merged = path.join(tmp, `${c.name}-${dtype}-merged.gguf`);
      const minfo = exportFile([...base, "--adapter", a, "--dtype", dtype], merged);
      gc.runs.push({ dtype, adapter: a, lora: false, ...minfo, results: await run(merged, [], promptList, c) });
      if (dtype === "f32" || dtype === "f16") {
        const lfile = path.join(tmp, `${c.name}-${path.basename(a)}-lora.gguf`);
        const linfo = exportFile(["export", "--base", c.model, "--adapter", a, "--as-adapter", "--dtype", "f32"], lfile);
        gc.runs.push({ dtype, adapter: a, lora: true, lora_size: linfo.size, lora_sha256: linfo.sha256, size: info.size,
          sha256: info.sha256, results: await run(file, [lfile], promptList, c) });
      }
    }
    console.error(`${c.name} ${dtype}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  golden.cases.push(gc);
}

// One line per array of numbers keeps the file readable and diffable.
const json = JSON.stringify(golden, null, 1).replace(/\[\s*(-?[\d.e-]+(?:,\s*-?[\d.e-]+)*)\s*\]/g,
  (_, inner) => "[" + inner.split(/,\s*/).join(",") + "]");
fs.writeFileSync(outPath, json + "\n");
fs.rmSync(tmp, { recursive: true });
console.error(`wrote ${outPath}`);
