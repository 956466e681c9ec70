"""Timing only: in an int8-static file that ModelBuild wrote, replace the named float MatMul nodes (weights stored int8,
rebuilt by Cast + Mul at load) and their bias Add by QuantizeLinear + com.microsoft MatMulIntegerToFloat with the bias
folded in: the fewest nodes a static int8 projection can take on ONNX Runtime's CPU provider (float takes MatMul + Add).
The activation scale is a fixed 0.05 (zero point 128), not calibrated: the kernels' time does not depend on it, the
outputs do, so the file is for timing and not for use.
Usage: python3 fold_bias.py <in.onnx> <out.onnx> <MatMul node name>[,<name> ...]"""
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper

src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
model = onnx.load(src)
graph = model.graph
initializers = {i.name: i for i in graph.initializer}
nodes = list(graph.node)
for name in names:
    matmul = next(n for n in nodes if n.name == name)
    x, weight = matmul.input
    base = weight[: -len("_rebuilt")]  # Int8WeightStorage's names: <w>_quantized (int8) and <w>_scale ([1, N])
    add = next(n for n in nodes if n.op_type == "Add" and matmul.output[0] in n.input)
    bias = next(i for i in add.input if i != matmul.output[0])
    scale = numpy_helper.to_array(initializers[base + "_scale"]).reshape(-1).astype(np.float32)
    graph.initializer.extend([
        numpy_helper.from_array(scale, base + "_column_scale"),
        numpy_helper.from_array(np.zeros(scale.shape[0], np.int8), base + "_zero_point"),
        numpy_helper.from_array(np.array(0.05, np.float32), name + "_x_scale"),
        numpy_helper.from_array(np.array(128, np.uint8), name + "_x_zero_point"),
    ])
    quantize = helper.make_node("QuantizeLinear", [x, name + "_x_scale", name + "_x_zero_point"], [name + "_xq"], name=name + "_Quantize")
    kernel = helper.make_node("MatMulIntegerToFloat",
                              [name + "_xq", base + "_quantized", name + "_x_scale", base + "_column_scale",
                               name + "_x_zero_point", base + "_zero_point", bias],
                              [add.output[0]], name=name + "_MatMulIntegerToFloat", domain="com.microsoft")
    at = nodes.index(matmul)
    nodes[at:at + 1] = [quantize, kernel]
    nodes.remove(add)
del graph.node[:]
graph.node.extend(nodes)
onnx.save(model, dst)
