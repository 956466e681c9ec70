"""The PyTorch side of the CNN BatchNorm benchmark: mnist-cnn-pytorch's architecture at half width (Conv 1->5 and
5->10, 5x5; FC 160->25->10 with the teacher's Relu before LogSoftmax, as `--student-width 0.5` derives it) with a BatchNorm2d after each Conv, from PyTorch's
default initialization, distilled from the teacher (run here from its ONNX weights) with the usual KD loss
(alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels)), Adam, the epoch kept by agreement with the
teacher on a 10% validation split of the training rows; prints the test accuracy of the kept epoch.
With "revive": what ModelBuild does (Students/DeadOutputRepair.cs): before every epoch, an fc2 class score that is <= 0
on all of the rows the teacher puts in that class among 512 random training rows (train mode, BatchNorm running statistics untouched) has its weights imprinted
from the features of the rows the teacher puts in that class, so that the Relu passes it gradient again.
With "mb-optimizer": ModelBuild's optimizer defaults (see below).
Usage: pytorch_student.py DATA_DIR TEACHER.onnx SEED EPOCHS [revive] [mb-optimizer]"""
import math
import sys
import numpy as np
import onnx
import onnx.numpy_helper as nh
import torch
import torch.nn as nn
import torch.nn.functional as F

data, teacher_path, seed, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
revive = "revive" in sys.argv[5:]
# "mb-optimizer": ModelBuild's training defaults instead of the script's (AdamW, weight decay 0.01, 6% linear warm-up
# then cosine decay to 0 per step, gradient norm clipped at 1.0), to see what the optimizer accounts for.
mb_optimizer = "mb-optimizer" in sys.argv[5:]
batch, lr, T, alpha = 64, 1e-3, 4.0, 0.9
torch.set_num_threads(1)
torch.manual_seed(seed)


def load(name):
    return torch.from_numpy(np.load(f"{data}/{name}.npy"))


def onnx_forward(model, x):
    """The few operators mnist-cnn-pytorch uses, from its graph (no onnxruntime for Python here)."""
    env = {i.name: torch.from_numpy(nh.to_array(i).copy()) for i in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = {t.name: onnx.helper.get_attribute_value(t) for t in n.attribute}
        i = [env[name] if name else None for name in n.input]
        if n.op_type == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a.get("strides", [1, 1]), padding=p[:2])
        elif n.op_type == "MaxPool":
            y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]))
        elif n.op_type == "Relu":
            y = F.relu(i[0])
        elif n.op_type == "Reshape":
            y = i[0].reshape(x.shape[0], -1)
        elif n.op_type == "Gemm":
            w = i[1].t() if a.get("transB", 0) else i[1]
            y = i[0] @ w + i[2]
        elif n.op_type == "LogSoftmax":
            y = F.log_softmax(i[0], dim=a.get("axis", 1))
        elif n.op_type in ("Dropout", "Identity"):
            y = i[0]
        elif n.op_type == "Constant":
            y = torch.from_numpy(nh.to_array(a["value"]).copy())
        else:
            raise SystemExit(f"teacher operator {n.op_type} not handled")
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 5, 5), nn.BatchNorm2d(5)
        self.conv2, self.bn2 = nn.Conv2d(5, 10, 5), nn.BatchNorm2d(10)
        self.fc1, self.fc2 = nn.Linear(160, 25), nn.Linear(25, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.bn1(self.conv1(x)), 2))
        x = F.relu(F.max_pool2d(self.bn2(self.conv2(x)), 2))
        # The teacher's graph has a Relu after fc2 too (Gemm -> Relu -> LogSoftmax); the same architecture keeps it.
        return F.log_softmax(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))), dim=1)


x, y, test_x, test_y = load("train_x"), load("train_y"), load("test_x"), load("test_y")
with torch.no_grad():
    teacher = onnx_forward(onnx.load(teacher_path), x)
order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
held = len(x) // 10
val, train = order[:held], order[held:]
student = Student()
revived = []


def revive_dead_scores(epoch):
    """ModelBuild's DeadOutputRepair, before every epoch: a dead class's fc2 weights are imprinted from the mean fc1
    features of the sampled rows the teacher puts in it (minus the mean over all sampled rows, at the old weights'
    length), its bias puts the threshold half-way between the two means. The sample: 512 of the training rows in a
    seeded random order (train is already one), as ModelBuild draws it."""
    rows = train[:512]
    saved = {k: v.clone() for k, v in student.state_dict().items()}
    student.train()
    with torch.no_grad():
        h = x[rows]
        h = F.relu(F.max_pool2d(student.bn1(student.conv1(h)), 2))
        h = F.relu(F.max_pool2d(student.bn2(student.conv2(h)), 2))
        h = F.relu(student.fc1(h.flatten(1)))
        z = student.fc2(h)
    student.load_state_dict(saved)  # BatchNorm's running statistics as they were
    classes = teacher[rows].argmax(1)
    with torch.no_grad():
        mean = h.mean(0)
        for c in range(z.shape[1]):
            # dead: none of the sampled rows the teacher puts in the class passes the Relu
            if not bool((classes == c).any()) or not bool((z[classes == c, c] <= 0).all()):
                continue
            own = h[classes == c]
            if len(own) == 0 or not (own.mean(0) - mean).norm() > 1e-12:
                continue  # no sampled row of the class: left alone
            d = own.mean(0) - mean
            student.fc2.weight[c] = d * (student.fc2.weight[c].norm() / d.norm())
            student.fc2.bias[c] = -(((own.mean(0) + mean) / 2) * student.fc2.weight[c]).sum()
            revived.append((epoch, c))


if mb_optimizer:
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)
    total = epochs * ((len(train) + batch - 1) // batch)
    warmup = round(total * 0.06)
    schedule = lambda step: (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
else:
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
best, best_state = -1.0, None
for epoch in range(epochs):
    if revive:
        revive_dead_scores(epoch + 1)
    student.train()
    perm = train[torch.randperm(len(train))]
    for start in range(0, len(perm), batch):
        b = perm[start:start + batch]
        s = student(x[b])
        soft = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(teacher[b] / T, 1), log_target=True, reduction="batchmean")
        loss = alpha * T * T * soft + (1 - alpha) * F.cross_entropy(s, y[b])
        optimizer.zero_grad()
        loss.backward()
        if mb_optimizer:
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        if mb_optimizer:
            scheduler.step()
    student.eval()
    with torch.no_grad():
        agreement = (student(x[val]).argmax(1) == teacher[val].argmax(1)).float().mean().item()
    if agreement > best:
        best, best_state = agreement, {k: v.clone() for k, v in student.state_dict().items()}
student.load_state_dict(best_state)
student.eval()
with torch.no_grad():
    predicted = student(test_x).argmax(1)
    accuracy = (predicted == test_y).float().mean().item() * 100
never = sorted(set(range(10)) - set(predicted.tolist()))
print(f"pytorch{' mb-optimizer' if mb_optimizer else ''}{' revive (epoch, class) ' + str(revived) if revive else ''} seed {seed}: validation agreement {best * 100:.2f}%, test accuracy {accuracy:.2f}%, classes never predicted on test: {never}")
