"""Issue 4: re-sweep the fusion constants (index.rs `Fusion`, the lexical weights) for the shipped adapter,
over the twelve case sets it never saw, from the same dumps as answer_model.py (its docstring gives the
commands). Reranks each case's five dumped candidates with every combination of the grid and reports
top-1, and the gain of the combination fitted on half the sets when measured on the other half.
Usage: python3 tools/research/fusion_sweep.py /tmp/sw   (needs numpy)"""
import csv, sys, itertools, numpy as np
from collections import defaultdict

SETS = 'dev test holdout digital cosmetics womenswear stationery car books glasses toys seafood'.split()
COLUMNS = ['right', 'words', 'chars', 'cover', 'semantic', 'centroid', 'whitened', 'passage']
SHIPPED = dict(w=0.8, fl=0.3, ph=0.3, whs=0.35, wf=0.6, pas=0.15, pf=0.3, lw=0.3, lc=0.3)
GRID = dict(w=[0.75, 0.8, 0.85], fl=[0.3, 0.4], ph=[0.3, 0.5], whs=[0.2, 0.35], wf=[0.5, 0.6],
            pas=[0.15, 0.25, 0.3, 0.4, 0.5], pf=[0.2, 0.3, 0.4], lw=[0.3, 0.4, 0.5], lc=[0.3, 0.4, 0.5, 0.6])


def load(path):
    cases = defaultdict(list)
    for r in csv.DictReader(open(path)):
        cases[int(r['case'])].append(r)
    cases = [rows for _, rows in sorted(cases.items()) if rows[0]['expected']]
    X = np.zeros((len(cases), 5, len(COLUMNS)))
    valid = np.zeros((len(cases), 5), bool)
    for i, rows in enumerate(cases):
        for j, r in enumerate(rows[:5]):
            X[i, j] = [float(r[c]) for c in COLUMNS]
            valid[i, j] = True
    return X, valid


def above(cos, floor):
    return np.clip((cos - floor) / (1 - floor), 0, 1)


def top1(X, valid, P):
    """index.rs's score, recomputed from the dumped signals."""
    lexical = np.clip(P['lw'] * X[..., 1] + P['lc'] * X[..., 2] + (1 - P['lw'] - P['lc']) * X[..., 3], 0, 1)
    base = above(P['ph'] * X[..., 4] + (1 - P['ph']) * X[..., 5], P['fl'])
    sim = ((1 - P['whs'] - P['pas']) * base + P['whs'] * above(X[..., 6], P['wf'])
           + P['pas'] * above(X[..., 7], P['pf']))
    score = np.where(valid, (1 - P['w']) * lexical + P['w'] * sim, -1)
    best = np.argmax(score, axis=1)
    return X[np.arange(len(X)), best, 0].mean()


D = {n: load(f'{sys.argv[1]}/{n}.csv') for n in SETS}
shipped = np.array([top1(*D[n], SHIPPED) for n in SETS])
combos = [dict(zip(GRID, v)) for v in itertools.product(*GRID.values())]
combos = [P for P in combos if P['whs'] + P['pas'] <= 0.85 and P['lw'] + P['lc'] <= 1.0]
T = np.array([[top1(*D[n], P) for n in SETS] for P in combos])
best = T.mean(1).argmax()
print('shipped mean top-1 %.4f; best in the grid %.4f with %s' % (shipped.mean(), T[best].mean(), combos[best]))
rng = np.random.default_rng(0)
gains = []
for _ in range(20):
    idx = rng.permutation(len(SETS))
    for fit, held in ((idx[:6], idx[6:]), (idx[6:], idx[:6])):
        gains.append(T[T[:, fit].mean(1).argmax(), held].mean() - shipped[held].mean())
print('fitted on six sets, measured on the other six: top-1 gain %.4f ± %.4f (lowest %.4f)'
      % (np.mean(gains), np.std(gains), np.min(gains)))
