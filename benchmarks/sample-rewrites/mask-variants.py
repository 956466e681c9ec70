"""The two rewrites of the padding mask's arithmetic, applied alone and together to the sample's float student as the
build before them wrote it (float-before.onnx from run.sh), so that they can be timed side by side with it: mean
pooling's weights m / Clip(ReduceSum(m), 1e-9) as LpNormalization(m, p=1) (lp.onnx; m is a Cast of a bool mask), and
Not(Equal(ids, 0)) as Cast(ids, bool) (cast.onnx); both (lp-cast.onnx). The same rewrites as the optimize stage's
MeanPoolingMatMul (0/1 mask case) and NotEqualZeroAsCast, written again here by hand (python3-onnx) so the figures do
not depend on the code they measure. Usage: python3 mask-variants.py <float-before.onnx> <out folder>"""
import os, sys
import onnx
from onnx import helper, numpy_helper

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def producers(g): return {o: n for n in g.node for o in n.output}
def readers(g, t): return [n for n in g.node if t in n.input]
def const(g, name): return numpy_helper.to_array(next(i for i in g.initializer if i.name == name))


def lp(m):
    g = m.graph; P = producers(g)
    unsq = next(n for n in g.node if n.op_type == 'Unsqueeze' and readers(g, n.output[0])[0].op_type == 'MatMul')
    div = P[unsq.input[0]]; clip = P[div.input[1]]; count = P[clip.input[0]]
    assert div.op_type == 'Div' and clip.op_type == 'Clip' and count.op_type == 'ReduceSum' and P[div.input[0]].op_type == 'Cast'
    g.node.insert(list(g.node).index(div), helper.make_node('LpNormalization', [div.input[0]], [div.output[0]], axis=-1, p=1))
    for n in (div, clip, count): g.node.remove(n)


def cast(m):
    g = m.graph; P = producers(g)
    nt = next(n for n in g.node if n.op_type == 'Not'); eq = P[nt.input[0]]
    x, zero = (eq.input[0], eq.input[1]) if any(i.name == eq.input[1] for i in g.initializer) else (eq.input[1], eq.input[0])
    assert eq.op_type == 'Equal' and const(g, zero).ndim == 0 and const(g, zero) == 0
    g.node.insert(list(g.node).index(eq), helper.make_node('Cast', [x], [nt.output[0]], to=onnx.TensorProto.BOOL))
    for n in (eq, nt): g.node.remove(n)


for name, steps in [('lp', [lp]), ('cast', [cast]), ('lp-cast', [lp, cast])]:
    m = onnx.load(src)
    for step in steps: step(m)
    onnx.save(m, os.path.join(out, name + '.onnx')); print(name, len(m.graph.node), 'nodes')
