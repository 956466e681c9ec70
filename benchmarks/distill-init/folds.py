# K validation folds of a case's TRAINING split (train_x/train_y only; row i goes to fold i % K), for sweep.sh.
# .npy reading and writing in plain Python: folds_io.py (numpy is not needed).
# Usage: folds.py CASE K OUT_DIR [SHARED]
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from folds_io import read, write
case, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = os.path.join(sys.argv[4] if len(sys.argv) > 4 else '../shared', 'teachers', case)
hx, x = read(f'{d}/train_x.npy'); hy, y = read(f'{d}/train_y.npy')
os.makedirs(out, exist_ok=True)
for f in range(k):
    val = [i for i in range(len(x)) if i % k == f]; tr = [i for i in range(len(x)) if i % k != f]
    write(f'{out}/fold{f}_train_x.npy', hx, [x[i] for i in tr]); write(f'{out}/fold{f}_train_y.npy', hy, [y[i] for i in tr])
    write(f'{out}/fold{f}_val_x.npy', hx, [x[i] for i in val]); write(f'{out}/fold{f}_val_y.npy', hy, [y[i] for i in val])
    print(case, 'fold', f, 'train', len(tr), 'val', len(val))
