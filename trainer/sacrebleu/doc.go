// Package sacrebleu computes BLEU (Papineni et al. 2002) and chrF (Popović 2015, 2017)
// exactly as sacreBLEU 2.x does (github.com/mjpost/sacrebleu: metrics/bleu.py,
// metrics/chrf.py, tokenizers/tokenizer_13a.py), so that the eval_bleu and eval_chrf of a
// run can be compared with numbers reported elsewhere: same tokenization (13a by
// default), smoothing, effective order and signatures.
//
// Text is handled as Python handles str: characters are Unicode code points, whitespace
// is what str.split() splits on, lowercasing is str.lower(). Input is expected to be
// UTF-8; an invalid byte counts as one character.
//
// It is a scorer only: it knows nothing of models, tokenizers or files, and imports only
// the standard library. The golden cases under testdata/metrics were written by
// sacreBLEU itself (gen_golden.py there).
package sacrebleu
