"""One projection (MatMul by a K x N weight + bias Add) over M tokens, as float and as the int8 forms ModelBuild writes
for a MatMul: static QDQ (QuantizeLinear/DequantizeLinear of the activation with a fixed range, per-channel int8 weight
behind a DequantizeLinear; ONNX Runtime turns it into MatMulIntegerToFloat) and dynamic (com.microsoft
DynamicQuantizeMatMul with the bias). What issue 17 (b) asks of a d 64 student comes down to these kernels at its size.
Usage: python3 make_models.py <folder> M KxN [KxN ...]; writes <folder>/<K>x<N>-{float,static,dynamic}.onnx and
<folder>/<K>x<N>.npy (8 rows of [M, K], uniform [-1, 1))."""
import sys, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

out, m, shapes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
for s in shapes:
    k, n = (int(v) for v in s.split("x"))
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    b = (rng.standard_normal(n) * 0.1).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", m, k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", m, n])
    wscale = (np.abs(w).max(axis=0) / 127).astype(np.float32)
    wq = np.clip(np.round(w / wscale), -127, 127).astype(np.int8)
    common = [numpy_helper.from_array(b, "b")]
    forms = {
        "float": ([helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["y"])],
                  [numpy_helper.from_array(w, "w")]),
        # The activation's range is the data's, [-1, 1), as calibration would give: uint8 with zero point 128.
        "static": ([helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
                    helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
                    helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=1),
                    helper.make_node("MatMul", ["xd", "wd"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["y"])],
                   [numpy_helper.from_array(np.array(2 / 255, np.float32), "xs"),
                    numpy_helper.from_array(np.array(128, np.uint8), "xz"),
                    numpy_helper.from_array(wq, "wq"), numpy_helper.from_array(wscale, "ws"),
                    numpy_helper.from_array(np.zeros(n, np.int8), "wz")]),
        # Static written directly as the kernel ONNX Runtime picks for the QDQ form, with the bias folded in (its
        # MatMulIntegerToFloat takes one): QuantizeLinear + MatMulIntegerToFloat, as many nodes as float's MatMul + Add.
        "static-bias": ([helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
                         helper.make_node("MatMulIntegerToFloat", ["xq", "wq", "xs", "ws", "xz", "wz", "b"], ["y"], domain="com.microsoft")],
                        [numpy_helper.from_array(np.array(2 / 255, np.float32), "xs"),
                         numpy_helper.from_array(np.array(128, np.uint8), "xz"),
                         numpy_helper.from_array(wq, "wq"), numpy_helper.from_array(wscale, "ws"),
                         numpy_helper.from_array(np.zeros(n, np.int8), "wz")]),
        "dynamic": ([helper.make_node("DynamicQuantizeMatMul", ["x", "wq", "ws", "wz", "b"], ["y"], domain="com.microsoft")],
                    [numpy_helper.from_array(wq, "wq"), numpy_helper.from_array(wscale, "ws"),
                     numpy_helper.from_array(np.zeros(n, np.int8), "wz")]),
    }
    for name, (nodes, inits) in forms.items():
        g = helper.make_graph(nodes, f"proj_{k}x{n}", [x], [y], common + inits)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out, f"{k}x{n}-{name}.onnx"))
    np.save(os.path.join(out, f"{k}x{n}.npy"), rng.uniform(-1, 1, (8, m, k)).astype(np.float32))
