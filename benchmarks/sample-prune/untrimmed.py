# The sample's float student with the sequence trim taken out (the same graph run on all S positions instead of the
# kept ones): every Slice whose end is the trim's length reads its untrimmed input, and the length's nodes
# (Cast(keep, int64), Mul, ReduceMax, Max) go. Measurement only: it tells how much of the student's time is
# per-position arithmetic.
# Usage: python3 untrimmed.py <float student.onnx> <out.onnx>
import sys, onnx
m = onnx.load(sys.argv[1]); g = m.graph
producer = {o: n for n in g.node for o in n.output}
# The length: Max(ReduceMax(Mul(Cast(keep), [1..S])), 1), each node's first computed input leading to the next.
chain = [next(n for n in g.node if n.op_type == 'Max')]
while len(chain) < 4:
    chain.append(next(producer[i] for i in chain[-1].input if i in producer))
assert [n.op_type for n in chain] == ['Max', 'ReduceMax', 'Mul', 'Cast'], [n.op_type for n in chain]
slices = [n for n in g.node if n.op_type == 'Slice' and n.input[2] == chain[0].output[0]]
for s in slices:
    for reader in g.node:
        for k, i in enumerate(reader.input):
            if i == s.output[0]: reader.input[k] = s.input[0]
for n in slices + chain: g.node.remove(n)
print('removed', [n.op_type for n in slices + chain], '->', len(g.node), 'nodes')
onnx.save(m, sys.argv[2])
