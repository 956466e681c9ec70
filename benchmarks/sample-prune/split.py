# Splits the synthetic-intent teacher's training data into a training part and a validation part (every 10th row,
# so both keep the class mix), for choosing the sample's prune fraction without the test split.
# Usage: python3 split.py <teacher folder> <out folder>
import sys, os
import numpy as np
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
x, y = np.load(os.path.join(src, 'train_x.npy')), np.load(os.path.join(src, 'train_y.npy'))
val = np.arange(len(x)) % 10 == 9
for name, rows in (('fit', ~val), ('val', val)):
    np.save(os.path.join(out, f'{name}_x.npy'), x[rows]); np.save(os.path.join(out, f'{name}_y.npy'), y[rows])
    print(name, int(rows.sum()), 'rows')
