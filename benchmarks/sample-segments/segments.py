"""Cuts the sample's float student (benchmarks/sample-forms/run.sh writes it as <work>/float.onnx) after each part of
the network: a model per prefix (the keep mask, the trim, the trimmed ids, the embedding with its LayerNorm, attention,
the residual + LayerNorm, the FFN, the final LayerNorm, the pooling), each ending at that part's output tensor. Timed
side by side, consecutive prefixes differ by one part's cost. Needs python3-onnx (Debian's package).
Usage: python3 segments.py <float.onnx> <out folder>"""
import os, sys
import onnx
from onnx import helper, TensorProto
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
m=onnx.load(src)
outs={'keep':('/Not_output_0',9),'trim':('SequenceTrim_Max',7),'ids':('input_trimmed',7),'emb':('/blocks.0/ln1/Add_1_output_0',1),'attn':('/blocks.0/Reshape_3_output_0',1),'ln2':('/blocks.0/ln2/Add_1_output_0',1),'ffn':('/blocks.0/Add_3_output_0',1),'lnf':('/ln_f/Add_1_output_0',1),'pool':('/Div_output_0',1)}
prod={o:n for n in m.graph.node for o in n.output}
for k,(v,t) in outs.items():
    stack=[v]; keep=set()  # the nodes the output depends on
    while stack:
        x=stack.pop()
        if x in prod and id(prod[x]) not in keep:
            keep.add(id(prod[x])); stack.extend(prod[x].input)
    nodes=[n for n in m.graph.node if id(n) in keep]
    used={i for n in nodes for i in n.input}
    g=helper.make_graph(nodes,k,list(m.graph.input),[helper.make_tensor_value_info(v,t,None)],[i for i in m.graph.initializer if i.name in used])
    mm=helper.make_model(g,opset_imports=m.opset_import); mm.ir_version=m.ir_version
    onnx.save(mm, os.path.join(out, k + '.onnx')); print(k,len(nodes))
