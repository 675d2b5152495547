"""Issue 4 research (docs/research/confidence-calibration.md): rerank and calibrate from `kefu bench bot --dump`.
Usage: kefu bench bot ... --dump /tmp/dump-dev.csv (and -test), then: python3 tools/research/calibrate.py /tmp/dump-dev.csv /tmp/dump-test.csv
Needs numpy and scikit-learn."""
import csv, numpy as np
from collections import defaultdict
from sklearn.linear_model import LogisticRegression
F=['score','words','chars','cover','semantic','centroid']
def load(p):
    cases=defaultdict(list)
    for r in csv.DictReader(open(p)):
        cases[int(r['case'])].append(r)
    out=[]
    for k,rows in sorted(cases.items()):
        X=np.array([[float(r[f]) for f in F] for r in rows])
        y=np.array([int(r['right']) for r in rows])
        out.append((rows[0]['query'], rows[0]['expected']!='', X, y))
    return out
def feats(X):
    # per-candidate features with relative ones
    n=len(X); res=[]
    for i in range(n):
        others=np.delete(X,i,axis=0)
        mx=others.max(axis=0) if len(others) else np.zeros(X.shape[1])
        res.append(np.concatenate([X[i], X[i]-mx]))
    return np.array(res)
import sys
dev=load(sys.argv[1]); test=load(sys.argv[2])
def rerank_data(ds):
    Xs=[];ys=[]
    for q,ins,X,y in ds:
        if ins and len(X):
            Xs.append(feats(X)); ys.append(y)
    return np.vstack(Xs), np.concatenate(ys)
Xd,yd=rerank_data(dev)
for C in [0.1,1,10]:
    m=LogisticRegression(C=C,max_iter=5000).fit(Xd,yd)
    def top(ds,use):
        t1=t3=n=0
        for q,ins,X,y in ds:
            if not ins: continue
            n+=1
            if not len(X): continue
            s = m.decision_function(feats(X)) if use else X[:,0]
            o=np.argsort(-s)
            t1+=y[o[0]]; t3+=y[o[:3]].sum()
        return t1/n,t3/n
    print(C,'dev',top(dev,1),'base',top(dev,0),'test',top(test,1),'base',top(test,0))
def topfeat(X):
    t=X[0]; s=X[1] if len(X)>1 else np.zeros_like(t)
    return np.concatenate([t, t-s])
def data(ds):
    Xs=[];ys=[];oos=[]
    for q,ins,X,y in ds:
        if not len(X): Xs.append(np.zeros(12)); ys.append(0); oos.append(not ins); continue
        Xs.append(topfeat(X)); ys.append(int(ins and y[0]==1)); oos.append(not ins)
    return np.array(Xs),np.array(ys),np.array(oos)
Xd,yd,od=data(dev); Xt,yt,ot=data(test)
def evaluate(sd,st,y_d,o_d,y_t,o_t):
    # threshold on dev: smallest that rejects >=95% oos
    best=None
    for th in sorted(set(sd)):
        acc=sd>=th
        if (~acc[o_d]).mean()>=0.95:
            best=th;break
    a_t=st>=best; a_d=sd>=best
    ins_d=~o_d; ins_t=~o_t
    return dict(th=round(float(best),3), dev_ans=(a_d&(y_d==1))[ins_d].mean().round(3), dev_wrong=(a_d&(y_d==0))[ins_d].mean().round(3),
      test_ans=(a_t&(y_t==1))[ins_t].mean().round(3), test_wrong=(a_t&(y_t==0))[ins_t].mean().round(3), test_oos=(~a_t[o_t]).mean().round(3))
names=F+['d_'+f for f in F]
print('score only', evaluate(Xd[:,0],Xt[:,0],yd,od,yt,ot))
for i,n in enumerate(names): print(n, evaluate(Xd[:,i],Xt[:,i],yd,od,yt,ot))
from sklearn.linear_model import LogisticRegression
for C in [0.1,1,10,100]:
  m=LogisticRegression(C=C,max_iter=10000).fit(Xd,yd)
  print('LR',C, evaluate(m.decision_function(Xd),m.decision_function(Xt),yd,od,yt,ot))
