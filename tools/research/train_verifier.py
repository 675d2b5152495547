"""A cross-encoder verifier for the bot's best candidates: an experiment of issue 4 that did not
pay (docs/research/verifier.md); kept so that it is not repeated blind.

The bi-encoder (e5-small + kefu's adapter) places near misses (same product, another aspect)
close to an entry; a cross-encoder reads the buyer's message and the entry's phrasing together
(`<s> query: Q </s></s> query: P </s>`) and might see that 能装热水 is not 几个月能用. Same base
model, its own rank-8 adapter, a linear head on the mean-pooled pair: P(same question), trained
with binary cross-entropy on the fourteen training shops of lora4 — per batch 8 buyer messages
with a phrasing of their entry, 2 hard negatives each (the bi-encoder's best wrong entries'
nearest phrasings) and 12 out-of-scope questions with their nearest phrasing.

Usage, from the repository root (after train_adapter.py's set-up; ~7 s a step on 2 cores):
  python3 tools/research/train_verifier.py mine /tmp/ver/mine.pkl        # candidates by the bi-encoder
  python3 tools/research/train_verifier.py train /tmp/ver/mine.pkl /tmp/ver/v.pkl
  python3 tools/research/train_verifier.py eval /tmp/ver/mine.pkl /tmp/ver/v.pkl   # on the bi-encoder's candidates
  for s in dev test holdout; do target/release/kefu bench bot --kb demo/knowledge.csv \
      --cases bench/demo-cases-$s.csv --dump /tmp/ver/dump-$s.csv; done   # and digital, the held-out shops
  python3 tools/research/train_verifier.py evaldump /tmp/ver/v.pkl /tmp/ver  # on the bot's own candidates
"""
import csv, glob, math, os, pickle, sys, time
import numpy as np, jax, jax.numpy as jnp, optax
sys.path.insert(0, os.path.dirname(__file__))
import train_adapter as ta

K = 5          # candidates per question
LMAX = 32      # tokens per half
RANK = int(os.environ.get('RANK', 8)); LR = float(os.environ.get('LR', 3e-4)); STEPS = int(os.environ.get('STEPS', 300))
NA, NH, NO = 8, 2, 12   # anchors per batch, hard negatives per anchor, out-of-scope questions per batch
TRAIN = ta.SHOPS.split(',')

def sets():
    out = [(n, kb, c) for n, kb, c in ta.SETS[:4]]
    for d in sorted(glob.glob('bench/train/*/')):
        n = os.path.basename(d[:-1]); out.append((n, d + 'knowledge.csv', d + 'cases.csv'))
    return out

def mine(out):
    P, cfg, vocab = ta.load(); lo = ta.adapter('models/e5-kefu-adapter.bin')
    fwd = jax.jit(lambda a, m: ta.forward(P, lo, a, m, cfg))
    def embed(texts):
        ids = ta.tokenize(['query: ' + t for t in texts], vocab, cfg); order = sorted(range(len(ids)), key=lambda i: len(ids[i])); res = [None] * len(ids)
        for s in range(0, len(order), 64):
            ch = order[s:s + 64]; L = ((max(min(len(ids[i]), 64) for i in ch) + 7) // 8) * 8
            a = np.zeros((64, L), np.int32); m = np.zeros((64, L), np.float32); m[len(ch):, 0] = 1
            for j, i in enumerate(ch): x = ids[i][:L]; a[j, :len(x)] = x; m[j, :len(x)] = 1
            v = np.array(fwd(jnp.asarray(a), jnp.asarray(m)))
            for j, i in enumerate(ch): res[i] = v[j]
        return np.array(res)
    data = {}
    for name, kbp, cp in sets():
        kb = list(csv.DictReader(open(kbp))); qs = [e['question'] for e in kb]
        ents = [[e['question']] + [x for x in e['similar'].split('|') if x.strip()] for e in kb]
        ph = [p for e in ents for p in e]; owner = np.array([i for i, e in enumerate(ents) for _ in e])
        cases = list(csv.DictReader(open(cp)))
        queries = [c['query'] for c in cases] + ph   # phrasings as anchors too (for training)
        S = embed(queries) @ embed(ph).T
        for j in range(len(ph)): S[len(cases) + j, j] = -9   # a phrasing does not find itself
        rows = []
        for qi, q in enumerate(queries):
            if qi < len(cases):
                exp = qs.index(cases[qi]['expected'].strip()) if cases[qi]['expected'].strip() else None
            else:
                exp = int(owner[qi - len(cases)])
            best = [(S[qi, owner == e].max(), ph[np.flatnonzero(owner == e)[S[qi, owner == e].argmax()]]) for e in range(len(kb))]
            order = sorted(range(len(kb)), key=lambda e: -best[e][0])
            rows.append(dict(q=q, exp=exp, case=qi < len(cases), cands=[(e, float(best[e][0]), best[e][1]) for e in order[:K]]))
        data[name] = dict(ents=ents, rows=rows)
        print(name, len(rows), flush=True)
    pickle.dump(data, open(out, 'wb'))

def pair_ids(tok, a, b, cfg):
    x = tok[a][1:-1][:LMAX]; y = tok[b][1:-1][:LMAX]
    return [cfg['bos']] + x + [cfg['eos'], cfg['eos']] + y + [cfg['eos']]

def logit(params, P, a, m, cfg):
    """The head on the pair's mean-pooled vector (ta.forward gives it normalised)."""
    return params['s'] * (ta.forward(P, params['lora'], a, m, cfg) @ params['w']) * 10 + params['b']

def scores(params, P, cfg, pairs):
    """Logits of many pairs (token ids), 64 to a batch."""
    f = jax.jit(lambda a, m: logit(params, P, a, m, cfg)); z = []
    for s in range(0, len(pairs), 64):
        ch = pairs[s:s + 64]; a, m = pad(ch, 64); z.extend(np.array(f(a, m))[:len(ch)])
    return z

def texts_of(data, names):
    t = set()
    for n in names:
        d = data[n]
        for e in d['ents']: t.update(e)
        for r in d['rows']: t.add(r['q'])
    return sorted(t)

def pad(pairs, B=None):
    L = max(len(p) for p in pairs); L = ((L + 15) // 16) * 16; B = B or len(pairs)
    a = np.zeros((B, L), np.int32); m = np.zeros((B, L), np.float32); m[len(pairs):, 0] = 1
    for i, p in enumerate(pairs): a[i, :len(p)] = p; m[i, :len(p)] = 1
    return jnp.asarray(a), jnp.asarray(m)

def train(minep, out):
    P, cfg, vocab = ta.load(); data = pickle.load(open(minep, 'rb'))
    texts = texts_of(data, TRAIN); tok = dict(zip(texts, ta.tokenize(['query: ' + t for t in texts], vocab, cfg)))
    rng = np.random.default_rng(0); key = jax.random.PRNGKey(0)
    H, FF = cfg['H'], cfg['FF']; dims = {'q': (H, H), 'v': (H, H), 'ao': (H, H), 'fi': (H, FF), 'fo': (FF, H)}
    lora = {}
    for l in range(12):
        for t in ta.TARGETS:
            din, dout = dims[t]; key, k1 = jax.random.split(key)
            lora[(l, t)] = (jax.random.normal(k1, (din, RANK)) * (1 / np.sqrt(din)), jnp.zeros((RANK, dout)))
    params = dict(lora=lora, w=jnp.zeros(H), b=jnp.asarray(-1.0), s=jnp.asarray(1.0))
    if os.environ.get('INIT'):   # go on from an earlier run
        params = jax.tree_util.tree_map(jnp.asarray, pickle.load(open(os.environ['INIT'], 'rb')))
    def sample():
        d = data[TRAIN[rng.integers(len(TRAIN))]]; ents = d['ents']
        ins = [r for r in d['rows'] if r['exp'] is not None]; oos = [r for r in d['rows'] if r['exp'] is None]
        pairs, ys = [], []
        for r in rng.choice(len(ins), NA, replace=False):
            r = ins[r]; own = [p for p in ents[r['exp']] if p != r['q']]
            near = [c for c in r['cands'] if c[0] == r['exp']]
            pos = near[0][2] if near and rng.random() < 0.5 else own[rng.integers(len(own))]
            pairs.append((r['q'], pos)); ys.append(1.0)
            wrong = [c for c in r['cands'] if c[0] != r['exp']][:4]
            for c in rng.choice(len(wrong), NH, replace=False):
                e, _, p = wrong[c]
                if rng.random() < 0.3: p = ents[e][rng.integers(len(ents[e]))]
                pairs.append((r['q'], p)); ys.append(0.0)
        for r in rng.choice(len(oos), NO, replace=False):
            r = oos[r]; c = r['cands'][0 if rng.random() < 0.7 else rng.integers(1, 3)]
            pairs.append((r['q'], c[2])); ys.append(0.0)
        a, m = pad([pair_ids(tok, x, y, cfg) for x, y in pairs], 48)
        ys = ys + [0.0] * (48 - len(ys)); wt = [1.0] * len(pairs) + [0.0] * (48 - len(pairs))
        return a, m, jnp.asarray(ys), jnp.asarray(wt)
    def loss_fn(params, a, m, y, w):
        z = logit(params, P, a, m, cfg); return (optax.sigmoid_binary_cross_entropy(z, y) * w).sum() / w.sum()
    sched = optax.warmup_cosine_decay_schedule(0.0, LR, 20, STEPS, LR * 0.1)
    opt = optax.adamw(sched, weight_decay=0.0); st = opt.init(params)
    @jax.jit
    def step(params, st, a, m, y, w):
        l, g = jax.value_and_grad(loss_fn)(params, a, m, y, w); u, st = opt.update(g, st, params); return optax.apply_updates(params, u), st, l
    t0 = time.time(); hist = []
    for i in range(STEPS):
        a, m, y, w = sample(); params, st, l = step(params, st, a, m, y, w); hist.append(float(l))
        if i % 20 == 0 or i == STEPS - 1: print(i, f'{np.mean(hist[-20:]):.3f}', f'{time.time() - t0:.0f}s', flush=True)
        if i % 100 == 99: pickle.dump(jax.tree_util.tree_map(np.array, params), open(out + f'.{i + 1}', 'wb'))
    pickle.dump(jax.tree_util.tree_map(np.array, params), open(out, 'wb'))

def evaluate(minep, vp):
    P, cfg, vocab = ta.load(); data = pickle.load(open(minep, 'rb')); params = jax.tree_util.tree_map(jnp.asarray, pickle.load(open(vp, 'rb')))
    names = [n for n, _, _ in sets() if n not in TRAIN]
    texts = texts_of(data, names); tok = dict(zip(texts, ta.tokenize(['query: ' + t for t in texts], vocab, cfg)))
    res = {}
    for n in names:
        rows = [r for r in data[n]['rows'] if r['case']]; pairs = [pair_ids(tok, r['q'], c[2], cfg) for r in rows for c in r['cands']]
        res[n] = (rows, np.array(scores(params, P, cfg, pairs)).reshape(len(rows), K))
    pickle.dump({n: z for n, (_, z) in res.items()}, open(vp + '.scores', 'wb'))
    report(res)

def report(res):
    def th95(vals):
        t = sorted(vals); return t[math.ceil(0.95 * len(t)) - 1] + 1e-9 if t else 9
    # Decision rules: (ranking score per candidate, decision score of the top one).
    def rules(rows, z):
        cos = np.array([[c[1] for c in r['cands']] for r in rows]); p = 1 / (1 + np.exp(-z))
        return {'cosine': (cos, cos), 'cos-rank verifier-decide': (cos, np.where(np.arange(K)[None] == 0, p[:, :1], 0)),
                'verifier': (p, p), 'cos+0.1z': (cos + 0.1 * z, cos + 0.1 * z), 'cos+0.05z': (cos + 0.05 * z, cos + 0.05 * z)}
    dev = rules(*res['dev']) if 'dev' in res else None
    for rule in ['cosine', 'cos-rank verifier-decide', 'verifier', 'cos+0.1z', 'cos+0.05z']:
        print(rule, '(top-1 top-3 · answered correctly / OOS not answered at dev\'s 0.95 · own 0.95)')
        rk, dc = dev[rule]; top = [dc[i, np.argmax(rk[i])] for i in range(len(rk))]
        thd = th95([t for t, r in zip(top, res['dev'][0]) if r['exp'] is None])
        for n, (rows, z) in res.items():
            rk, dc = rules(rows, z)[rule]
            best = rk.argmax(1); top = np.array([dc[i, best[i]] for i in range(len(rows))])
            ok = np.array([r['exp'] is not None and r['cands'][b][0] == r['exp'] for r, b in zip(rows, best)])
            r3 = np.array([r['exp'] in [r['cands'][j][0] for j in np.argsort(-rk[i])[:3]] for i, r in enumerate(rows)])
            ins = np.array([r['exp'] is not None for r in rows]); th = th95(top[~ins])
            print(f'  {n:12s} {ok[ins].mean():.3f} {r3[ins].mean():.3f} · {(ok & (top >= thd))[ins].mean():.3f} / {(top[~ins] < thd).mean():.3f} · own {(ok & (top >= th))[ins].mean():.3f}')

DUMPS = ['dev', 'test', 'holdout', 'digital', 'cosmetics', 'womenswear', 'stationery', 'car']
def evaldump(vp, folder):
    """On `kefu bench bot --dump` files (folder/dump-<set>.csv): the bot's own candidates, each
    with its nearest phrasing, scored by the verifier; decisions by several rules."""
    P, cfg, vocab = ta.load(); params = jax.tree_util.tree_map(jnp.asarray, pickle.load(open(vp, 'rb')))
    sets = {}
    for n in DUMPS:
        cases = {}
        for r in csv.DictReader(open(f'{folder}/dump-{n}.csv')): cases.setdefault(int(r['case']), []).append(r)
        sets[n] = [cases[k] for k in sorted(cases)]
    texts = sorted({t for rows in sets.values() for c in rows for r in c for t in (r['query'], r['phrasing'])})
    tok = dict(zip(texts, ta.tokenize(['query: ' + t for t in texts], vocab, cfg)))
    out = {}
    for n, rows in sets.items():
        pairs = [pair_ids(tok, r['query'], r['phrasing'], cfg) for c in rows for r in c[:3]]
        it = iter(scores(params, P, cfg, pairs)); out[n] = [[next(it) for _ in c[:3]] for c in rows]
    pickle.dump((sets, out), open(vp + '.dumpscores', 'wb'))
    dumpreport(sets, out)

def dumpreport(sets, out):
    def feats(n):
        R = []
        for c, z in zip(sets[n], out[n]):
            sc = [float(r['score']) for r in c]; chk = float(c[0]['checked']) if c[0]['checked'] else sc[0]
            R.append(dict(inscope=bool(c[0]['expected']), right=[r['right'] == '1' for r in c], sc=sc, chk=chk, z=z,
                          lead=sc[0] - (sc[1] if len(sc) > 1 else 0)))
        return R
    F = {n: feats(n) for n in sets}
    sig = lambda x: 1 / (1 + np.exp(-x))
    rules = {
        'shipped (checked, lead .04, .64)': lambda r: (0, r['chk'] if r['lead'] >= 0.04 else -9),
        'checked, no lead': lambda r: (0, r['chk']),
        'verifier p of top': lambda r: (0, sig(r['z'][0])),
        'score + .1(p-.5)': lambda r: (0, r['sc'][0] + 0.1 * (sig(r['z'][0]) - .5)),
        'score + .2(p-.5)': lambda r: (0, r['sc'][0] + 0.2 * (sig(r['z'][0]) - .5)),
        'checked + .2(p-.5)': lambda r: (0, r['chk'] + 0.2 * (sig(r['z'][0]) - .5)),
        'rerank top3 by score+.05z, decide same': lambda r: max(((i, r['sc'][i] + 0.05 * r['z'][i]) for i in range(len(r['z']))), key=lambda t: t[1]),
        'rerank top3 by score+.1(p-.5)': lambda r: max(((i, r['sc'][i] + 0.1 * (sig(r['z'][i]) - .5)) for i in range(len(r['z']))), key=lambda t: t[1]),
    }
    for name, rule in rules.items():
        dv = [rule(r) for r in F['dev'] if not r['inscope']]; t = sorted(d for _, d in dv); thd = t[math.ceil(0.95 * len(t)) - 1] + 1e-9
        print(f'{name}  (top-1 · answered correctly / OOS not answered at dev\'s 0.95 · own 0.95)')
        for n, R in F.items():
            dec = [rule(r) for r in R]; ins = np.array([r['inscope'] for r in R]); sc = np.array([d for _, d in dec])
            ok = np.array([r['inscope'] and r['right'][i] for r, (i, _) in zip(R, dec)])
            t = sorted(sc[~ins]); th = t[math.ceil(0.95 * len(t)) - 1] + 1e-9
            print(f'  {n:11s} {ok[ins].mean():.3f} · {(ok & (sc >= thd))[ins].mean():.3f} / {(sc[~ins] < thd).mean():.3f} · own {(ok & (sc >= th))[ins].mean():.3f}')

if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'mine': mine(sys.argv[2])
    elif cmd == 'train': train(sys.argv[2], sys.argv[3])
    elif cmd == 'eval': evaluate(sys.argv[2], sys.argv[3])
    elif cmd == 'evaldump': evaldump(sys.argv[2], sys.argv[3])
