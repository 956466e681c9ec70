"""MNIST t10k (../shared/datasets/mnist-t10k) as .npy for the CNN BatchNorm benchmark: rows 0-7999 train (the tools
hold out their own 10% for validation), rows 8000-9999 test; pixels normalized as the teacher was trained,
(p / 255 - 0.1307) / 0.3081, shape [N, 1, 28, 28]."""
import gzip, os, sys
import numpy as np

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
with gzip.open(os.path.join(src, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open(os.path.join(src, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
x = ((images / 255.0 - 0.1307) / 0.3081).astype(np.float32)
np.save(os.path.join(out, "train_x.npy"), x[:8000])
np.save(os.path.join(out, "train_y.npy"), labels[:8000])
np.save(os.path.join(out, "test_x.npy"), x[8000:])
np.save(os.path.join(out, "test_y.npy"), labels[8000:])
