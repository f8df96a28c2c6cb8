"""Writes golden.json: BLEU and chrF values computed the way sacreBLEU 2.x computes them.

sacreBLEU cannot be installed here (no PyPI), so this script restates its algorithm in
plain Python, step for step, from these files of https://github.com/mjpost/sacrebleu
(2.x, the object API introduced in 2.0.0):

  sacrebleu/tokenizers/tokenizer_13a.py   Tokenizer13a.__call__
  sacrebleu/tokenizers/tokenizer_re.py    TokenizerRegexp (the four regexes, verbatim)
  sacrebleu/tokenizers/tokenizer_char.py  TokenizerChar.__call__
  sacrebleu/metrics/helpers.py            extract_all_word_ngrams, extract_word_ngrams,
                                          extract_all_char_ngrams
  sacrebleu/metrics/base.py               Metric._cache_references (drops '' refs),
                                          Signature.format
  sacrebleu/metrics/bleu.py               BLEU._preprocess_segment, _get_closest_ref_len,
                                          _extract_reference_info,
                                          _compute_segment_statistics, compute_bleu
  sacrebleu/metrics/chrf.py               CHRF._get_match_statistics, _remove_punctuation,
                                          _compute_f_score, _compute_segment_statistics
  sacrebleu/utils.py                      my_log

Before writing anything it checks itself against every value sacreBLEU publishes for
these code paths (README.md, test/test_bleu.py, test/test_chrf.py,
test/test_sentence_bleu.py); trainer/bleu_test.go and trainer/chrf_test.go hold the same
published cases. The generated cases exercise what the published ones do not: Unicode,
Python's notion of whitespace, HTML entities, numbers around '.', ',' and '-', empty
hypotheses, variable numbers of references, every option.

Run from this directory: python3 gen_golden.py   (deterministic: seeded RNG)

sacreBLEU is Copyright Matt Post and contributors, licensed under the Apache License 2.0;
the parts restated here (notably the tokenizer regexes) are used under that licence.
"""
import json
import math
import random
import re
from collections import Counter

# --------------------------------------------------------------------------- tokenizers

# tokenizer_re.py: TokenizerRegexp._re, the patterns and replacements verbatim.
_RE_RULES = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tok_13a(line):
    # tokenizer_13a.py: Tokenizer13a.__call__
    line = line.replace('<skipped>', '')
    line = line.replace('-\n', '')
    line = line.replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"')
        line = line.replace('&amp;', '&')
        line = line.replace('&lt;', '<')
        line = line.replace('&gt;', '>')
    line = f' {line} '
    # tokenizer_re.py: TokenizerRegexp.__call__
    for rx, repl in _RE_RULES:
        line = rx.sub(repl, line)
    return ' '.join(line.split())


def tok_char(line):
    return ' '.join(ch for ch in line)  # tokenizer_char.py


def tok_none(line):
    return line  # tokenizer_none.py


TOKENIZERS = {'13a': tok_13a, 'char': tok_char, 'none': tok_none}

# --------------------------------------------------------------------------- helpers


def my_log(num):  # utils.py
    if num == 0.0:
        return -9999999999
    return math.log(num)


def segment_refs(hyps, refs):
    """base.py _cache_references: per segment, the references that are neither None nor ''."""
    assert all(len(stream) == len(hyps) for stream in refs)
    out, num_refs = [], set()
    for seg in zip(*refs):
        lines = [x for x in seg if x is not None and x != '']
        if not lines:
            raise RuntimeError('Empty or `None` reference sentence found.')
        num_refs.add(len(lines))
        out.append(lines)
    return out, (list(num_refs)[0] if len(num_refs) == 1 else -1)

# --------------------------------------------------------------------------- BLEU

SMOOTH_DEFAULTS = {'none': None, 'floor': 0.1, 'add-k': 1, 'exp': None}


def extract_all_word_ngrams(line, min_order, max_order):  # helpers.py
    ngrams = []
    tokens = line.split()
    for n in range(min_order, max_order + 1):
        for i in range(0, len(tokens) - n + 1):
            ngrams.append(tuple(tokens[i: i + n]))
    return Counter(ngrams), len(tokens)


def compute_bleu(correct, total, sys_len, ref_len, smooth_method='none', smooth_value=None,
                 effective_order=False, max_ngram_order=4):  # bleu.py BLEU.compute_bleu
    if smooth_value is None:
        smooth_value = SMOOTH_DEFAULTS[smooth_method]
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0 for x in range(max_ngram_order)]
    if not any(correct):
        return dict(score=0.0, counts=correct, totals=total, precisions=precisions, bp=bp,
                    sys_len=sys_len, ref_len=ref_len)
    smooth_mteval = 1.
    eff_order = max_ngram_order
    for n in range(1, len(precisions) + 1):
        if smooth_method == 'add-k' and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth_method == 'exp':
                smooth_mteval *= 2
                precisions[n - 1] = 100. / (smooth_mteval * total[n - 1])
            elif smooth_method == 'floor':
                precisions[n - 1] = 100. * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100. * correct[n - 1] / total[n - 1]
    score = bp * math.exp(sum([my_log(p) for p in precisions[:eff_order]]) / eff_order)
    return dict(score=score, counts=correct, totals=total, precisions=precisions, bp=bp,
                sys_len=sys_len, ref_len=ref_len)


def bleu_corpus(hyps, refs, lowercase=False, tokenize='13a', smooth_method='exp',
                smooth_value=None, max_ngram_order=4, effective_order=False):
    tok = TOKENIZERS[tokenize]

    def prep(sent):  # bleu.py BLEU._preprocess_segment
        if lowercase:
            sent = sent.lower()
        return tok(sent.rstrip())

    seg_refs, num_refs = segment_refs(hyps, refs)
    stats = [0] * (2 + 2 * max_ngram_order)
    for hyp, lines in zip(hyps, seg_refs):
        lines = [prep(x) for x in lines]
        # _extract_reference_info
        ref_ngrams, ref_lens = None, []
        for ref in lines:
            this_ngrams, ref_len = extract_all_word_ngrams(ref, 1, max_ngram_order)
            ref_lens.append(ref_len)
            if ref_ngrams is None:
                ref_ngrams = this_ngrams
            else:
                for ngram, count in this_ngrams.items():
                    ref_ngrams[ngram] = max(ref_ngrams[ngram], count)
        # _compute_segment_statistics
        hyp_ngrams, hyp_len = extract_all_word_ngrams(prep(hyp), 1, max_ngram_order)
        closest_diff, closest_len = -1, -1  # _get_closest_ref_len
        for ref_len in ref_lens:
            diff = abs(hyp_len - ref_len)
            if closest_diff == -1 or diff < closest_diff:
                closest_diff, closest_len = diff, ref_len
            elif diff == closest_diff and ref_len < closest_len:
                closest_len = ref_len
        correct = [0] * max_ngram_order
        total = correct[:]
        for ngram, count in hyp_ngrams.items():
            n = len(ngram) - 1
            total[n] += count
            if ngram in ref_ngrams:
                correct[n] += min(count, ref_ngrams[ngram])
        seg = [hyp_len, closest_len] + correct + total
        stats = [a + b for a, b in zip(stats, seg)]
    res = compute_bleu(stats[2:2 + max_ngram_order], stats[2 + max_ngram_order:],
                       stats[0], stats[1], smooth_method, smooth_value, effective_order,
                       max_ngram_order)
    res['num_refs'] = num_refs
    return res

# --------------------------------------------------------------------------- chrF

_PUNCTS = set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


def extract_all_char_ngrams(line, max_order, include_whitespace=False):  # helpers.py
    if not include_whitespace:
        line = ''.join(line.split())
    return [Counter([line[i:i + n] for i in range(len(line) - n + 1)])
            for n in range(1, max_order + 1)]


def extract_word_ngrams(tokens, n):  # helpers.py
    return Counter([' '.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)])


def remove_punctuation(sent):  # chrf.py CHRF._remove_punctuation
    tokenized = []
    for w in sent.split():
        if len(w) == 1:
            tokenized.append(w)
        elif w[-1] in _PUNCTS:
            tokenized += [w[:-1], w[-1]]
        elif w[0] in _PUNCTS:
            tokenized += [w[0], w[1:]]
        else:
            tokenized.append(w)
    return tokenized


def match_statistics(hyp_ngrams, ref_ngrams):  # chrf.py CHRF._get_match_statistics
    match_count, hyp_count = 0, 0
    for ng, count in hyp_ngrams.items():
        hyp_count += count
        if ng in ref_ngrams:
            match_count += min(count, ref_ngrams[ng])
    return [hyp_count if ref_ngrams else 0, sum(ref_ngrams.values()), match_count]


def chrf_f_score(statistics, order, beta, eps_smoothing):  # chrf.py CHRF._compute_f_score
    eps = 1e-16
    score = 0.0
    effective_order = 0
    factor = beta ** 2
    avg_prec, avg_rec = 0.0, 0.0
    for i in range(order):
        n_hyp, n_ref, n_match = statistics[3 * i: 3 * i + 3]
        prec = n_match / n_hyp if n_hyp > 0 else eps
        rec = n_match / n_ref if n_ref > 0 else eps
        denom = factor * prec + rec
        score += ((1 + factor) * prec * rec / denom) if denom > 0 else eps
        if n_hyp > 0 and n_ref > 0:
            avg_prec += prec
            avg_rec += rec
            effective_order += 1
    if eps_smoothing:
        return 100 * score / order
    if effective_order == 0:
        avg_prec = avg_rec = 0.0
    else:
        avg_prec /= effective_order
        avg_rec /= effective_order
    if avg_prec + avg_rec:
        score = (1 + factor) * avg_prec * avg_rec
        score /= ((factor * avg_prec) + avg_rec)
        return 100 * score
    return 0.0


def chrf_corpus(hyps, refs, char_order=6, word_order=0, beta=2, lowercase=False,
                whitespace=False, eps_smoothing=False):
    order = char_order + word_order

    def prep(sent):  # chrf.py CHRF._preprocess_segment
        return sent.lower() if lowercase else sent

    def ngrams(sent):  # chrf.py _extract_reference_info / _compute_segment_statistics
        stats = extract_all_char_ngrams(sent, char_order, whitespace)
        if word_order > 0:
            words = remove_punctuation(sent)
            for n in range(word_order):
                stats.append(extract_word_ngrams(words, n + 1))
        return stats

    seg_refs, num_refs = segment_refs(hyps, refs)
    total = [0] * (3 * order)
    for hyp, lines in zip(hyps, seg_refs):
        all_hyp = ngrams(prep(hyp))
        best_stats, best_f = [], -1.0
        for ref in lines:
            stats = []
            for h, r in zip(all_hyp, ngrams(prep(ref))):
                stats.extend(match_statistics(h, r))
            f = chrf_f_score(stats, order, beta, eps_smoothing)
            if f > best_f:
                best_f, best_stats = f, stats
        total = [a + b for a, b in zip(total, best_stats)]
    return dict(score=chrf_f_score(total, order, beta, eps_smoothing), stats=total,
                num_refs=num_refs)

# --------------------------------------------------------------------------- self-check


def check_published():
    """Every published value for these code paths; the Go tests repeat them with citations."""
    refs = [['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
            ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.']]
    hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.']

    def close(a, b, eps):
        assert abs(a - b) < eps, (a, b)

    b = bleu_corpus(hyps, refs)
    close(b['score'], 48.530827, 1e-6)  # test_bleu.py, README
    assert (b['sys_len'], b['ref_len']) == (17, 18)
    assert '/'.join(f'{p:.1f}' for p in b['precisions']) == '82.4/50.0/45.5/37.5'
    close(bleu_corpus(['', '', ''], refs)['score'], 0.0, 1e-8)
    close(bleu_corpus(hyps, refs, tokenize='none')['score'], 49.1919566, 1e-6)
    close(bleu_corpus(hyps, refs, smooth_method='none')['score'], 48.530827, 1e-6)
    for order, want in [(1, '77.65'), (2, '60.50'), (3, '53.93'), (4, '48.53'), (5, '46.14'),
                        (6, '43.28')]:
        assert f"{bleu_corpus(hyps, refs, max_ngram_order=order)['score']:.2f}" == want
    var = bleu_corpus(hyps, [[''] + refs[0][1:], refs[1]])  # README variable refs
    assert f"{var['score']:.2f}" == '29.44' and (var['sys_len'], var['ref_len']) == (17, 19)
    assert var['num_refs'] == -1
    close(chrf_corpus(hyps, refs)['score'], 59.73, 0.005)  # README: chrF2 = 59.73

    def raw(h, r, v=0.1):  # compat.raw_corpus_bleu
        return bleu_corpus(h, r, tokenize='none', smooth_method='floor', smooth_value=v,
                           effective_order=True)
    close(raw(['this is a test', 'another test'], [['ref1', 'ref2']], .01)['score'] / 100, 0, 1e-8)
    close(raw(['this is a test'], [['this is a test']], .01)['score'] / 100, 1.0, 1e-8)
    close(raw(['this is a fest'], [['this is a test']], .01)['score'] / 100, 0.223606797749979, 1e-8)
    close(raw(['test'], [['a test']], .01)['score'] / 100, 0.3678794411714425, 1e-8)
    close(raw(['a test'], [['a test']], .01)['score'] / 100, 1.0, 1e-8)
    close(raw(['a little test'], [['a test']], .01)['score'] / 100, 0.03218297948685433, 1e-8)
    st = raw(['am I am a character sequence'], [['I am a symbol string sequence a a']], .01)
    assert (st['counts'], st['totals']) == ([4, 2, 1, 0], [6, 5, 4, 3])
    close(raw(['am I am a character sequence'], [['I am a symbol string sequence a a']], 0.0)['score'], 0, 1e-8)
    close(raw(['am I am a character sequence'], [['I am a symbol string sequence a a']])['score'] / 100,
          0.1555722182, 1e-8)
    close(compute_bleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11)['score'] / 100, 0.8375922397, 1e-8)

    ref, sys = 'producţia de zahăr brut se exprimă în zahăr alb;', \
        'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;'
    for method, value, lc, tok, want in [
            ('exp', None, False, '13a', 8.493), ('none', None, False, '13a', 0.0),
            ('floor', None, False, '13a', 4.51688), ('floor', 0.1, False, '13a', 4.51688),
            ('floor', 0.5, False, '13a', 10.10), ('add-k', None, False, '13a', 14.882),
            ('add-k', 1, False, '13a', 14.882), ('add-k', 2, False, '13a', 21.389),
            ('exp', None, False, 'none', 7.347), ('exp', None, False, 'char', 40.8759),
            ('exp', None, True, 'char', 42.0267)]:  # test_sentence_bleu.py
        got = bleu_corpus([sys], [[ref]], lowercase=lc, tokenize=tok, smooth_method=method,
                          smooth_value=value, effective_order=True)['score']
        close(got, want, 1e-3)
    for method in ['exp', 'none', 'floor', 'add-k']:
        close(bleu_corpus(['this is a cat'], [['okay thanks']], smooth_method=method,
                          effective_order=True)['score'], 0.0, 1e-3)

    for h, r, want in [  # test_chrf.py test_cases (beta=3, eps smoothing)
            (['abcdefg'], ['hijklmnop'], 0.0), (['a'], ['b'], 0.0), ([''], ['b'], 0.0),
            ([''], ['ref'], 0.0), ([''], ['reference'], 0.0), (['aa'], ['ab'], 8.3333),
            (['a', 'b'], ['a', 'c'], 8.3333), (['a'], ['a'], 16.6667), (['a b c'], ['a b c'], 50.0),
            (['a b c'], ['abc'], 50.0),
            ([' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'],
             ['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .'], 63.361730),
            ([' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
             ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'], 64.1302698),
            (['Niemand hat die Absicht, eine Mauer zu errichten'],
             ['Niemand hat die Absicht, eine Mauer zu errichten'], 100.0)]:
        close(chrf_corpus(h, [r], beta=3, eps_smoothing=True)['score'], want, 1e-4)
    for h, r, want in [(['a'], ['a'], 100.0), ([''], ['reference'], 0.0),
                       (['a b c'], ['a b c'], 100.0), (['a b c'], ['abc'], 100.0),
                       ([''], ['c'], 0.0), (['a', 'b'], ['a', 'c'], 50.0), (['aa'], ['ab'], 25.0)]:
        close(chrf_corpus(h, [r], beta=3)['score'], want, 1e-4)
    for h, r, want in [
            (['Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.'],
             ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'], 67.3481606),
            (['risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'],
             ['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .'], 65.2414427)]:
        close(chrf_corpus(h, [r], beta=3, whitespace=True)['score'], want, 1e-4)
    for h, r, want in [
            ('Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
             'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.', 39.14078509),
            ('Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
             'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.', 31.22557079),
            ('Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
             'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.', 57.15704367)]:
        close(chrf_corpus([h], [[r]], eps_smoothing=True)['score'], want, 1e-4)
    assert tok_13a("I'm a student.") == "I'm a student ."  # sbintuitions/flexeval tests

# --------------------------------------------------------------------------- generated cases

WORDS = ['the', 'The', 'dog', 'man', 'bit', 'had', 'bitten', 'a', 'an', 'of', 'in', 'and',
         'it', 'It', "wasn't", "don't", "l'homme", 'U.S.', 'e.g.', 'Mr.', 'Dr', 'co-operate',
         'well-known', 'state-of-the-art', 'Zürich', 'straße', 'STRASSE', 'naïve', 'café',
         'Ελληνικά', 'ΟΔΟΣ', 'ΣΊΣΥΦΟΣ', 'σοφός', 'İstanbul', 'ıi', 'Ǆemal', 'ǅ', 'ﬁne',
         '中文', '東京都', '日本語です', '한국어', 'русский', 'Москва', 'עברית', 'العربية',
         'हिन्दी', '🙂', '👍🏽', 'e\u0301', 'x²', '½', '٣', '३', '3.14', '1,000', '1,000.50',
         '2-3', '10-12', '-5', '+7', '42', '2021-07-18', '3.', '.5', ',5', '5,', 'a.b', 'a,b',
         '...', '?!', '(hi)', '[x]', '{y}', '"quoted"', "'single'", '<tag>', '&', '&amp;',
         '&quot;', '&lt;', '&gt;', '&amp;lt;', '&quot;hi&quot;', '&nbsp;', '<skipped>', '@user',
         '#tag', '$9.99', '50%', 'a/b', 'C++', 'x_y', 'back\\slash', '~tilde', '^caret',
         '`tick`', '|pipe|', 'semi;', 'colon:', 'em—dash', 'en–dash', '«guill»', '„low“',
         '…', '·', '¿Qué?', '¡Sí!']
SEPS = [' '] * 12 + ['  ', '\t', '\u00a0', '\u2009', '\u3000', '\x1c', '\x1f', '\x85',
                     '\u2028', '\u200b', '\r', '\n', '-\n', ' - ', ', ', '. ', '\x0b']
PUNCT_TAIL = ['', '', '', '.', '!', '?', ' .', '...', ';', ',', ' ', '  ', '\n', '\t', '-']


def sentence(rng, lo=0, hi=14):
    n = rng.randint(lo, hi)
    if n == 0:
        return rng.choice(['', ' ', '.', '\t', '\u00a0'])
    out = []
    for i in range(n):
        if i:
            out.append(rng.choice(SEPS))
        out.append(rng.choice(WORDS))
    return ''.join(out) + rng.choice(PUNCT_TAIL)


def mutate(rng, s):
    """A hypothesis near a reference: drop, duplicate, swap and replace words."""
    words = s.split(' ')
    for _ in range(rng.randint(0, 4)):
        op = rng.random()
        i = rng.randrange(len(words))
        if op < 0.25 and len(words) > 1:
            del words[i]
        elif op < 0.5:
            words.insert(i, words[i])
        elif op < 0.75:
            j = rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        else:
            words[i] = rng.choice(WORDS)
    out = ' '.join(words)
    r = rng.random()
    if r < 0.1:
        out = out.upper()
    elif r < 0.2:
        out = out.lower()
    return out


BLEU_OPTS = {
    'default': {},
    'lowercase': {'lowercase': True},
    'tok_none': {'tokenize': 'none'},
    'tok_char': {'tokenize': 'char'},
    'smooth_none': {'smooth_method': 'none'},
    'smooth_floor': {'smooth_method': 'floor'},
    'smooth_floor_0.5': {'smooth_method': 'floor', 'smooth_value': 0.5},
    'smooth_add_k': {'smooth_method': 'add-k'},
    'smooth_add_k_2': {'smooth_method': 'add-k', 'smooth_value': 2},
    'effective_order': {'effective_order': True},
    'order_2': {'max_ngram_order': 2},
    'order_6': {'max_ngram_order': 6},
}
CHRF_OPTS = {
    'default': {},
    'chrf++': {'word_order': 2},
    'whitespace': {'whitespace': True},
    'eps': {'eps_smoothing': True},
    'lowercase': {'lowercase': True},
    'beta_1': {'beta': 1},
    'beta_3': {'beta': 3},
    'char_3_word_1': {'char_order': 3, 'word_order': 1},
}


def gen_corpora(rng, count):
    corpora = []
    for c in range(count):
        n = rng.randint(1, 8)
        refs1 = [sentence(rng, 1) for _ in range(n)]
        # Hypotheses near the reference, unrelated, empty, or identical.
        hyps = []
        for r in refs1:
            k = rng.random()
            hyps.append(mutate(rng, r) if k < 0.6 else sentence(rng) if k < 0.8 else
                        '' if k < 0.9 else r)
        streams = [refs1]
        if c % 3 == 0:  # a second stream, sometimes with '' (variable number of references)
            streams.append([mutate(rng, r) if rng.random() < 0.8 else '' for r in refs1])
        if c % 7 == 0:
            streams.append([sentence(rng, 1) for _ in refs1])
        corpora.append((hyps, streams))
    return corpora


def main():
    check_published()
    rng = random.Random(20240611)
    tokenize = []
    for _ in range(300):
        s = sentence(rng, 0, 10)
        tokenize.append([s, tok_13a(s)])
    for s in ['', ' ', 'a.b,c', '1.5,2', 'x-\ny', '3-4-5', 'a-1', '1-a', '.,.,', ',.',
              '&amp;quot;', '&quot;&amp;&lt;&gt;', 'end.', 'End 5.', '5.x', 'x.5', '(1,2)',
              '\u00a0a\u00a0', 'a\x1cb', '\u200bzero\u200bwidth', 'tab\there', 'é.', '.é.',
              '٣.٤', '3.٤', 'x<skipped>y', 'line\nbreak', 'cr\rlf\r\n']:
        tokenize.append([s, tok_13a(s)])

    lower = []
    for s in ['ΟΔΟΣ', 'ΟΔΟΣ.', 'ΣΊΣΥΦΟΣ ΣΑΣ', 'Σ', 'AΣ', 'AΣB', "A'Σ", "AΣ'", "AΣ'B", 'A.Σ',
              'AΣ.B', 'AΣ\u0301', 'AΣ\u0301B', '\u0301Σ', 'İstanbul', 'İ', 'ǅǄǆ', 'ẞ', 'ΑΣ ΑΣ',
              'ΌΣΟΣ-ΣΑΣ', 'Σ1', '1Σ', 'ᾼΣ', 'ʰΣ', 'AΣʰ', 'A\u00adΣ', 'AΣ\u00ad', 'Ⅻ Ⅻ', 'ⒶⒷ']:
        lower.append([s, s.lower()])

    corpora = []
    for hyps, streams in gen_corpora(rng, 60):
        entry = {'hyps': hyps, 'refs': streams, 'bleu': {}, 'chrf': {}}
        # Components in full for the defaults, score (and raw counts) for the variants.
        for name, opts in BLEU_OPTS.items():
            r = bleu_corpus(hyps, streams, **opts)
            keys = ['score', 'counts', 'totals', 'precisions', 'bp', 'sys_len', 'ref_len',
                    'num_refs'] if name == 'default' else ['score']
            entry['bleu'][name] = {k: r[k] for k in keys}
        for name, opts in CHRF_OPTS.items():
            r = chrf_corpus(hyps, streams, **opts)
            keys = ['score', 'stats', 'num_refs'] if name in ('default', 'chrf++') else ['score']
            entry['chrf'][name] = {k: r[k] for k in keys}
        # Sentence level as sacrebleu.sentence_bleu / sentence_chrf compute it.
        entry['sentence_bleu'] = [
            bleu_corpus([h], [[r] for r in refs], effective_order=True)['score']
            for h, refs in zip(hyps, zip(*streams)) if any(r != '' for r in refs)]
        entry['sentence_chrf'] = [
            chrf_corpus([h], [[r] for r in refs])['score']
            for h, refs in zip(hyps, zip(*streams)) if any(r != '' for r in refs)]
        corpora.append(entry)

    pairs = sum(len(c['hyps']) for c in corpora)
    out = {'_comment': 'generated by gen_golden.py; do not edit', 'tokenize_13a': tokenize,
           'lower': lower, 'corpora': corpora}
    with open('golden.json', 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, separators=(',', ':'))
        f.write('\n')
    print(f'wrote golden.json: {len(tokenize)} tokenizer cases, {len(corpora)} corpora, '
          f'{pairs} sentence pairs')


if __name__ == '__main__':
    main()
