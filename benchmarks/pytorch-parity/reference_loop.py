"""The PyTorch side of the distill-stage speed comparison (benchmarks/pytorch-parity/run.sh).

Trains each shared teacher's stated student with the KD loop of reference.json's student_kd.train (epochs, batch,
lr, weight decay, optimizer, schedule, warm-up, clipping; T = 4, alpha = 0.9, the teacher's logits precomputed once)
and prints the loop's wall time and its process CPU time from the end of the first epoch on. The architectures are
written from reference.json's student_architecture and ../shared/teachers/README.md (the teachers' own script, tools/teachers/*.py, is not in ../shared). Only time is
measured: the teacher logits are fixed random numbers of the right shape (running the ONNX teacher needs onnxruntime,
which Debian does not package), which costs the loop exactly what real logits do. Dropout is 0 on both sides (the
ModelBuild benchmark trains with its default, 0). Text batches are bucketed by length inside chunks of 50 batches and
cut to their longest sequence, as the reference loop and ModelBuild do.

Besides the loop it prints `stage_seconds`: from before `import torch` (libtorch's load, as ModelBuild's distill stage
loads libtorch itself) through reading the data and building the model to the end of the loop; the interpreter's own
start is left out, as the .NET runtime's start is on the ModelBuild side.

usage: /usr/bin/python3 reference_loop.py <case> [--threads N]
"""
import time

STAGE_START = time.perf_counter()  # before importing torch: the stage-time comparison includes libtorch's load

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "teachers")


class Mlp(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class PreLnTransformer(nn.Module):
    """synthetic-intent-transformer's student: pre-LN, learned positions, PAD keys masked, mean over non-PAD, final LN."""

    def __init__(self, vocab, classes, d=64, heads=2, ffn=128, max_len=32):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d))
        self.ln1, self.ln2, self.lnf = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.cls = nn.Linear(d, classes)

    def attend(self, h, pad):
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + pad[:, None, None, :] * -1e4
        return self.o((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))

    def forward(self, ids):
        pad = (ids == 0).float()
        h = self.emb(ids) + self.pos[:, : ids.shape[1]]
        h = h + self.attend(self.ln1(h), pad)
        h = h + self.fc2(F.gelu(self.fc1(self.ln2(h))))
        h = self.lnf(h)
        keep = 1 - pad
        return self.cls((h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1))


class PostLnBert(nn.Module):
    """intent-bert's student: BERT-style post-LN encoder (1 layer, d 64, 2 heads, FFN 128), tanh pooler on [CLS]."""

    def __init__(self, vocab, classes, d=64, heads=2, ffn=128, max_len=32):
        super().__init__()
        self.heads = heads
        self.word, self.position, self.segment = nn.Embedding(vocab, d), nn.Embedding(max_len, d), nn.Embedding(2, d)
        self.ln_emb, self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.pool, self.cls = nn.Linear(d, d), nn.Linear(d, classes)

    def forward(self, ids, mask, types):
        b, n = ids.shape
        h = self.ln_emb(self.word(ids) + self.position(torch.arange(n)[None]) + self.segment(types))
        split = lambda t: t.view(b, n, self.heads, -1).transpose(1, 2)
        scores = split(self.q(h)) @ split(self.k(h)).transpose(-1, -2) / math.sqrt(h.shape[-1] // self.heads)
        scores = scores + (1.0 - mask[:, None, None, :].float()) * -10000.0
        a = (scores.softmax(-1) @ split(self.v(h))).transpose(1, 2).reshape(b, n, -1)
        h = self.ln1(h + self.o(a))
        h = self.ln2(h + self.fc2(F.gelu(self.fc1(h))))
        return self.cls(torch.tanh(self.pool(h[:, 0])))


def schedule(step, total, warmup, lr):
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def batches(rows, batch, lengths, rng):
    if lengths is None:
        return [rows[i:i + batch] for i in range(0, len(rows), batch)]
    out = []
    for c in range(0, len(rows), batch * 50):
        chunk = sorted(rows[c:c + batch * 50], key=lambda i: lengths[i])
        out += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def main():
    case = sys.argv[1]
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    d = os.path.join(SHARED, case)
    ref = json.load(open(os.path.join(d, "reference.json")))
    train = ref["student_kd"]["train"]
    y = torch.from_numpy(np.load(os.path.join(d, "train_y.npy"))).long()
    classes = int(y.max()) + 1
    lengths = None
    if case == "intent-bert":
        arrays = np.load(os.path.join(d, "train.npz"))
        x = [torch.from_numpy(arrays[k]).long() for k in ("input_ids", "attention_mask", "token_type_ids")]
        vocab = sum(1 for _ in open(os.path.join(d, "vocab.txt"), encoding="utf-8"))
        model = PostLnBert(vocab, classes)
        lengths = x[1].sum(1).tolist()
    elif case == "synthetic-intent-transformer":
        x = [torch.from_numpy(np.load(os.path.join(d, "train_x.npy"))).long()]
        model = PreLnTransformer(ref["student_architecture"]["vocab_size"], classes)
        lengths = (x[0] != 0).sum(1).tolist()
    else:
        x = [torch.from_numpy(np.load(os.path.join(d, "train_x.npy"))).float()]
        model = Mlp(ref["student_architecture"]["layer_sizes"])
    n = x[0].shape[0]
    teacher = torch.randn(n, classes, generator=torch.Generator().manual_seed(1)) * 3  # timing only, see the docstring

    epochs, batch, lr = train["epochs"], train["batch_size"], train["lr"]
    wd = train.get("weight_decay", 0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd) if train["optimizer"] == "adamw" else torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(n / batch)
    warmup = round(steps * train.get("warmup_frac", 0.0))
    clip = train.get("grad_clip")
    T, alpha = 4.0, 0.9
    rng = np.random.default_rng(1)
    step = 0
    model.train()
    start = time.perf_counter()
    cpu_first = None
    for _ in range(epochs):
        perm = rng.permutation(n).tolist()
        for rows in batches(perm, batch, lengths, rng):
            idx = torch.tensor(rows)
            xb = [t.index_select(0, idx) for t in x]
            if lengths is not None:
                cut = max(lengths[i] for i in rows)
                xb = [t[:, :cut] for t in xb]
            for g in opt.param_groups:
                g["lr"] = schedule(step, steps, warmup, lr)
            s = model(*xb)
            t = teacher.index_select(0, idx)
            loss = alpha * T * T * F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") \
                + (1 - alpha) * F.cross_entropy(s, y.index_select(0, idx))
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            step += 1
        if cpu_first is None:
            cpu_first = time.process_time()  # the epochs after the first: the span the ModelBuild side's CPU figure covers
    end = time.perf_counter()
    seconds = end - start
    cpu = time.process_time() - cpu_first
    print(f"pytorch {case} epochs {epochs} batch {batch} rows {n} seconds {seconds:.2f} loss {loss.item():.4f} torch {torch.__version__} threads {torch.get_num_threads()} cpu_after_first_epoch {cpu:.2f} stage_seconds {end - STAGE_START:.2f}")


if __name__ == "__main__":
    main()
