"""Issue 4: the answer confidence as a logistic model over the bot's signals (docs/research/answer-model.md).

Dump every case set first (release build), e.g.
  for s in dev test holdout; do kefu bench bot --kb demo/knowledge.csv --cases bench/demo-cases-$s.csv --dump /tmp/sw/$s.csv; done
  kefu bench bot --kb bench/digital-shop/knowledge.csv --cases bench/digital-shop/cases.csv --dump /tmp/sw/digital.csv
  for s in $(ls bench/train); do kefu bench bot --kb bench/train/$s/knowledge.csv --cases bench/train/$s/cases.csv --dump /tmp/sw/$s.csv; done
then: python3 tools/research/answer_model.py /tmp/sw [eval|fit]
  eval: leave-one-set-out over the twelve sets the adapter never saw (the fourteen it was trained on only
        ever train), the threshold set on the other sets' out-of-fold probabilities; prints the curve.
  fit:  fits on all sets and prints the Rust constants for crates/kefu-bot/src/answer.rs.
Needs numpy and scikit-learn."""
import csv, sys, numpy as np
from collections import defaultdict
from sklearn.linear_model import LogisticRegression

# The twelve sets lora4 never saw (demo dev/test/holdout, the digital shop, eight training shops) and
# the fourteen it was trained on.
UNSEEN = 'dev test holdout digital cosmetics womenswear stationery car books glasses toys seafood'.split()
TRAINED = ('appliances fitness flowers fruit furniture hometextile jewelry kitchenware outdoor pet-shop '
           'pets shoes snacks tea-shop').split()
# In the order of answer.rs's Features.
NAMES = ['score', 'adjusted', 'lead', 'rest_to_rest', 'rest_to_phrasing', 'question_to_rest', 'words',
         'chars', 'cover', 'semantic', 'centroid', 'whitened', 'passage', 'semantic_lead', 'centroid_lead',
         'passage_lead', 'question_chars']
MAX_CHARS = 40
C = 1.0


def load(path):
    cases = defaultdict(list)
    for r in csv.DictReader(open(path)):
        cases[int(r['case'])].append(r)
    X, right, in_scope = [], [], []
    for _, rows in sorted(cases.items()):
        t, s = rows[0], (rows[1] if len(rows) > 1 else None)
        g = lambda r, f: float(r[f]) if r is not None else 0.0
        X.append([g(t, 'score'), float(t['checked']), g(t, 'score') - g(s, 'score'),
                  float(t['rest_to_rest']), float(t['rest_to_phrasing']), float(t['question_to_rest']),
                  g(t, 'words'), g(t, 'chars'), g(t, 'cover'), g(t, 'semantic'), g(t, 'centroid'),
                  g(t, 'whitened'), g(t, 'passage'), g(t, 'semantic') - g(s, 'semantic'),
                  g(t, 'centroid') - g(s, 'centroid'), g(t, 'passage') - g(s, 'passage'),
                  min(len(t['query']), MAX_CHARS)])
        right.append(int(t['right']))
        in_scope.append(t['expected'] != '')
    return np.array(X), np.array(right), np.array(in_scope)


def fit(sets):
    X = np.vstack([D[n][0] for n in sets])
    y = np.concatenate([D[n][1] for n in sets])
    mean, std = X.mean(0), X.std(0) + 1e-9
    m = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / std, y)
    return mean, std, m.coef_[0], m.intercept_[0]


def prob(model, X):
    mean, std, w, b = model
    return 1 / (1 + np.exp(-(((X - mean) / std) @ w + b)))


def decisions(p, right, in_scope, t):
    a = p >= t
    n_in, n_out = in_scope.sum(), (~in_scope).sum()
    return ((a & in_scope & (right == 1)).sum() / n_in, (a & in_scope & (right == 0)).sum() / n_in,
            1 - (a & ~in_scope).sum() / max(n_out, 1))


def lowest_threshold(p, in_scope, target):
    """The lowest threshold that leaves `target` of the out-of-scope questions unanswered."""
    out = np.sort(p[~in_scope])[::-1]
    k = int(np.floor((1 - target) * len(out)))
    return out[k] + 1e-6 if k < len(out) else 0.0


def shipped(X):
    """Today's decision, for comparison: the aspect-adjusted score, held back by a lead under 0.04."""
    return np.where(X[:, 2] >= 0.04, X[:, 1], 0.0)


def evaluate():
    thresholds = [0.50, 0.60, 0.70, 0.75, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.92]
    oof = {}
    for held in UNSEEN:
        oof[held] = prob(fit([n for n in D if n != held]), D[held][0])
    cat = lambda f: np.concatenate([f(n) for n in UNSEEN])
    p, right, ins = cat(lambda n: oof[n]), cat(lambda n: D[n][1]), cat(lambda n: D[n][2])
    print('pooled out-of-fold, twelve sets: threshold → answered correctly / wrongly, out of scope not answered; '
          'mean over sets; lowest set')
    for t in thresholds:
        per = np.array([decisions(oof[n], D[n][1], D[n][2], t) for n in UNSEEN])
        print('  %.2f  %.3f/%.3f %.3f   mean %.3f/%.3f %.3f   lowest %.3f %.3f' % (
            (t,) + decisions(p, right, ins, t) + tuple(per.mean(0)) + (per[:, 0].min(), per[:, 2].min())))
    for target in (0.90, 0.95):
        rows = []
        for held in UNSEEN:
            cal = [n for n in UNSEEN if n != held]
            inner = np.concatenate([prob(fit([m for m in D if m not in (held, c)]), D[c][0]) for c in cal])
            base = np.concatenate([shipped(D[c][0]) for c in cal])
            ins_cal = np.concatenate([D[c][2] for c in cal])
            X, right, ins = D[held]
            rows.append(decisions(oof[held], right, ins, lowest_threshold(inner, ins_cal, target))
                        + decisions(shipped(X), right, ins, lowest_threshold(base, ins_cal, target)))
        r = np.array(rows).mean(0)
        print('threshold for %.2f of the other sets\' out of scope: model %.3f/%.3f %.3f; shipped rule %.3f/%.3f %.3f'
              % ((target,) + tuple(r)))


def emit():
    mean, std, w, b = fit(list(D))
    f = lambda v: ', '.join('%.6f' % x for x in v)
    print('pub const MEAN: [f32; %d] = [%s];' % (len(NAMES), f(mean)))
    print('pub const STD: [f32; %d] = [%s];' % (len(NAMES), f(std)))
    print('pub const WEIGHT: [f32; %d] = [%s];' % (len(NAMES), f(w)))
    print('pub const BIAS: f32 = %.6f;' % b)
    for n, x in zip(NAMES, w):
        print('  %-18s %+.3f' % (n, x))


if __name__ == '__main__':
    root = sys.argv[1]
    D = {n: load(f'{root}/{n}.csv') for n in UNSEEN + TRAINED}
    (evaluate if sys.argv[2:] == ['eval'] else emit)()
