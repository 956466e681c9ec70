# synthetic-intent-transformer's test split cut in two by test_heldout_template.npy: rows from templates seen in
# training (seen_x/y.npy) and from held-out templates (heldout_x/y.npy), to measure a student on each with
# `modelbuild eval`. Measurement only: nothing is chosen on these rows. .npy I/O: folds_io.py.
# Usage: heldout.py OUT_DIR [SHARED]
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from folds_io import read, write
out = sys.argv[1]; d = os.path.join(sys.argv[2] if len(sys.argv) > 2 else '../shared', 'teachers', 'synthetic-intent-transformer')
hx, x = read(f'{d}/test_x.npy'); hy, y = read(f'{d}/test_y.npy'); _, held = read(f'{d}/test_heldout_template.npy')
os.makedirs(out, exist_ok=True)
for name, keep in (('seen', b'\x00'), ('heldout', b'\x01')):
    rows = [i for i in range(len(x)) if held[i] == keep]
    write(f'{out}/{name}_x.npy', hx, [x[i] for i in rows]); write(f'{out}/{name}_y.npy', hy, [y[i] for i in rows])
    print(name, len(rows))
