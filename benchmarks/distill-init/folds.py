# K validation folds of a case's TRAINING split (train_x/train_y only; row i goes to fold i % K), for sweep.sh.
# Plain Python .npy reading and writing (numpy is not needed).
# Usage: folds.py CASE K OUT_DIR [SHARED]
import ast, struct, sys, os
def read(p):
    b = open(p, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]; h = ast.literal_eval(b[10:10+hl].decode('latin1'))
    shape = h['shape']; data = b[10+hl:]
    n = shape[0]; row = len(data)//n
    return h, [data[i*row:(i+1)*row] for i in range(n)]
def write(p, h, rows):
    h = dict(h); h['shape'] = (len(rows),) + tuple(h['shape'][1:])
    s = repr(h).encode('latin1'); pad = 64 - (10 + len(s) + 1) % 64
    s = s + b' '*pad + b'\n'
    open(p, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(s)) + s + b''.join(rows))
case, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = os.path.join(sys.argv[4] if len(sys.argv) > 4 else '../shared', 'teachers', case)
hx, x = read(f'{d}/train_x.npy'); hy, y = read(f'{d}/train_y.npy')
os.makedirs(out, exist_ok=True)
for f in range(k):
    val = [i for i in range(len(x)) if i % k == f]; tr = [i for i in range(len(x)) if i % k != f]
    write(f'{out}/fold{f}_train_x.npy', hx, [x[i] for i in tr]); write(f'{out}/fold{f}_train_y.npy', hy, [y[i] for i in tr])
    write(f'{out}/fold{f}_val_x.npy', hx, [x[i] for i in val]); write(f'{out}/fold{f}_val_y.npy', hy, [y[i] for i in val])
    print(case, 'fold', f, 'train', len(tr), 'val', len(val))
