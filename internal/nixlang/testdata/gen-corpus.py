# Writes random Nix programs (plausible, often invalid) for differential
# testing against nix-instantiate --parse:
#   python3 gen-corpus.py SEED COUNT OUTDIR PREFIX
# The gen_*.nix files of corpus/ came from: gen-corpus.py 3 120 corpus gen_
import random, sys
random.seed(int(sys.argv[1]))
ops=['+','-','*','/','++','//','==','!=','<','>','<=','>=','&&','||','->']
names=['a','b','c','x','y','or','z-1',"q'",'_u']
def sp():
    return random.choice([' ',' ',' ','','\n  ','  # c\n',' /* k */ '])
def name():
    return random.choice(names)
def attrname(d):
    r=random.random()
    if r<0.6: return name()
    if r<0.75: return '"'+random.choice(['a','b c','','x${"y"}','$'])+'"'
    if r<0.9: return '${'+gen(d-1)+'}'
    return random.choice(['or','"if"','a.b'])
def attrpath(d):
    return '.'.join(attrname(d) for _ in range(random.randint(1,3)))
def binds(d):
    out=[]
    for _ in range(random.randint(0,3)):
        r=random.random()
        if r<0.7: out.append(attrpath(d)+sp()+'='+sp()+gen(d-1)+';')
        elif r<0.85: out.append('inherit '+' '.join(name() for _ in range(random.randint(0,2)))+';')
        else: out.append('inherit ('+gen(d-1)+') '+' '.join(name() for _ in range(random.randint(0,2)))+';')
    return sp().join(out)
def gen(d):
    if d<=0:
        return random.choice(['1','0.5','.5','1.e2','"s"','"a${x}b"',"''\n  i\n''",'./p','./p/${x}','~/h','<n/l>','http://e.org/x','x','a','true','null','__curPos','[]','{}','b','or','f'])
    r=random.randint(0,19)
    if r==0: return '['+sp()+sp().join(gen(d-1) for _ in range(random.randint(0,3)))+sp()+']'
    if r==1: return random.choice(['','rec ','rec '])+'{'+sp()+binds(d)+sp()+'}'
    if r==2: return 'let'+sp()+' '+binds(d)+sp()+' in '+gen(d-1)
    if r==3: return name()+':'+sp()+gen(d-1)
    if r==4:
        fs=[name()+random.choice(['','','?'+gen(d-1)]) for _ in range(random.randint(0,3))]
        s='{'+sp()+', '.join(fs)+random.choice(['',',',', ...',''])+sp()+'}'
        s=random.choice([s,s,name()+'@'+s,s+'@'+name()])
        return s+':'+sp()+gen(d-1)
    if r==5: return 'if '+gen(d-1)+' then '+gen(d-1)+' else '+gen(d-1)
    if r==6: return 'with '+gen(d-1)+';'+sp()+gen(d-1)
    if r==7: return 'assert '+gen(d-1)+';'+sp()+gen(d-1)
    if r in (8,9,10): return gen(d-1)+sp()+random.choice(ops)+sp()+gen(d-1)
    if r==11: return random.choice(['!','-','- '])+gen(d-1)
    if r==12: return gen(d-1)+'.'+attrpath(d)+random.choice(['',' or '+gen(d-1)])
    if r==13: return gen(d-1)+' ? '+attrpath(d)
    if r==14: return gen(d-1)+' '+gen(d-1)
    if r==15: return '('+gen(d-1)+')'
    if r==16: return '"'+random.choice(['','a','$','\\n'])+'${'+gen(d-1)+'}'+random.choice(['','b$'])+'"'
    if r==17: return "''"+random.choice(['\n',' ','\n    '])+random.choice(['x','  y',"''$","'''","''\\t"])+'${'+gen(d-1)+'}'+random.choice(['\n  ',''])+"''"
    if r==18: return 'let { '+binds(d)+' body = '+gen(d-1)+'; }'
    return gen(d-1)+' or'
for i in range(int(sys.argv[2])):
    s='let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in '+gen(random.randint(1,4))
    open('%s/%s%03d.nix' % (sys.argv[3], sys.argv[4], i),'w').write(s+'\n')
