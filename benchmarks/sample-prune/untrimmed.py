# The sample's float student with the sequence trim taken out (the same graph run on all S positions instead of the
# kept ones): every Slice whose end is the trim's length reads its untrimmed input, and the length's nodes (Cast,
# Mul, ReduceMax, Max) go. Measurement only: it tells how much of the student's time is per-position arithmetic.
# Usage: python3 untrimmed.py <float student.onnx> <out.onnx>
import sys, onnx
m = onnx.load(sys.argv[1]); g = m.graph
P = {o: n for n in g.node for o in n.output}
mx = next(n for n in g.node if n.op_type == 'Max')
rm = []
for n in list(g.node):
    if n.op_type == 'Slice' and n.input[2] == mx.output[0]:
        src, dst = n.input[0], n.output[0]
        for r in g.node:
            for k, i in enumerate(r.input):
                if i == dst: r.input[k] = src
        rm.append(n)
x = mx
while x is not None and x.op_type in ('Max', 'ReduceMax', 'Mul', 'Cast') and x.output[0] and x not in rm:
    rm.append(x)
    if x.op_type == 'Cast' and x.input[0] in P and P[x.input[0]].op_type == 'Cast' and x.name == 'Cast_1': break
    x = P.get(x.input[0])
for n in rm: g.node.remove(n)
print([n.op_type for n in rm]); print(len(g.node))
onnx.save(m, sys.argv[2])
