"""Each of the three rewrites that took nodes or costly kernels out of the sample's float student, applied alone to the
student as the build before them wrote it (float-before.onnx from run.sh), so that they can be timed side by side
with it: the one-head attention's output projection folded into its value projection (fold.onnx), masked mean
pooling as one MatMul (pool.onnx), the trim's Where(keep, [1..S], 0) as Cast + Mul (trim.onnx). The same rewrites as
the optimize stage's AttentionOutputFold, MeanPoolingMatMul and SequenceTrimFusion, written again here by hand (numpy,
python3-onnx) so the figures do not depend on the code they measure. Usage: python3 variants.py <float-before.onnx> <out folder>"""
import os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def producers(g): return {o: n for n in g.node for o in n.output}
def readers(g, t): return [n for n in g.node if t in n.input]
def const(g, name): return numpy_helper.to_array(next(i for i in g.initializer if i.name == name))
def replace_init(g, name, value):
    g.initializer.remove(next(i for i in g.initializer if i.name == name)); g.initializer.append(numpy_helper.from_array(value, name))
def rewire(g, old, new):
    for n in g.node:
        for k, i in enumerate(n.input):
            if i == old: n.input[k] = new


def fold(m):
    g = m.graph
    att = next(n for n in g.node if n.op_type == 'Attention')
    mm = readers(g, att.output[0])[0]; assert mm.op_type == 'MatMul'
    add = readers(g, mm.output[0])[0]; assert add.op_type == 'Add'
    wo = const(g, mm.input[1]); bo = const(g, next(i for i in add.input if i != mm.output[0]))
    w, b = const(g, att.input[1]), const(g, att.input[2]); h = w.shape[1] // 3
    w2 = np.concatenate([w[:, :2 * h], (w[:, 2 * h:].astype(np.float64) @ wo).astype(np.float32)], 1)
    b2 = np.concatenate([b[:2 * h], (b[2 * h:].astype(np.float64) @ wo + bo).astype(np.float32)])
    replace_init(g, att.input[1], w2); replace_init(g, att.input[2], b2)
    att.attribute.append(helper.make_attribute('qkv_hidden_sizes', [h, h, wo.shape[1]]))
    rewire(g, add.output[0], att.output[0]); g.node.remove(mm); g.node.remove(add)


def pool(m):
    g = m.graph; P = producers(g)
    gemm = next(n for n in g.node if n.op_type == 'Gemm')
    div = P[gemm.input[0]]; red = P[div.input[0]]; mul = P[red.input[0]]; unsq = P[mul.input[1]]
    count, mask, hidden = div.input[1], unsq.input[0], mul.input[0]
    g.initializer.append(numpy_helper.from_array(np.array([-2], np.int64), 'pool_axes'))
    i = list(g.node).index(gemm)
    for n in [helper.make_node('Div', [mask, count], ['pool_w']), helper.make_node('Unsqueeze', ['pool_w', 'pool_axes'], ['pool_w3']),
              helper.make_node('MatMul', ['pool_w3', hidden], ['pool_p3']), helper.make_node('Flatten', ['pool_p3'], ['pool_p'], axis=1)][::-1]:
        g.node.insert(i, n)
    gemm.input[0] = 'pool_p'
    for n in [div, red, mul, unsq]: g.node.remove(n)


def trim(m):
    g = m.graph
    where = next(n for n in g.node if n.op_type == 'Where' and readers(g, n.output[0])[0].op_type == 'ReduceMax')
    i = list(g.node).index(where)
    g.node.insert(i, helper.make_node('Mul', ['trim_keep_i64', where.input[1]], [where.output[0]]))
    g.node.insert(i, helper.make_node('Cast', [where.input[0]], ['trim_keep_i64'], to=7))
    g.node.remove(where)


for name, steps in [('fold', [fold]), ('pool', [pool]), ('trim', [trim]), ('all', [fold, pool, trim])]:
    m = onnx.load(src)
    for step in steps: step(m)
    onnx.save(m, os.path.join(out, name + '.onnx')); print(name, len(m.graph.node), 'nodes')
