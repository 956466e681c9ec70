using Onnx;

namespace ModelBuild.Onnx.Graph;

/// <summary>Walks a graph and its subgraphs (If/Loop/Scan bodies) to reach every graph and every tensor.</summary>
public static class GraphTraversal
{
    /// <summary>The graph and all nested subgraphs, outermost first.</summary>
    public static IEnumerable<GraphProto> AllGraphs(GraphProto graph)
    {
        yield return graph;
        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.G is not null)
                {
                    foreach (var g in AllGraphs(attribute.G))
                    {
                        yield return g;
                    }
                }
                foreach (var sub in attribute.Graphs)
                {
                    foreach (var g in AllGraphs(sub))
                    {
                        yield return g;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Every TensorProto that carries data: initializers, sparse initializer parts and tensor attributes
    /// (Constant nodes and the like), in all graphs.
    /// </summary>
    public static IEnumerable<TensorProto> AllTensors(GraphProto graph)
    {
        foreach (var g in AllGraphs(graph))
        {
            foreach (var t in g.Initializer)
            {
                yield return t;
            }
            foreach (var s in g.SparseInitializer)
            {
                if (s.Values is not null) yield return s.Values;
                if (s.Indices is not null) yield return s.Indices;
            }
            foreach (var node in g.Node)
            {
                foreach (var attribute in node.Attribute)
                {
                    if (attribute.T is not null) yield return attribute.T;
                    foreach (var t in attribute.Tensors) yield return t;
                    if (attribute.SparseTensor is { } st)
                    {
                        if (st.Values is not null) yield return st.Values;
                        if (st.Indices is not null) yield return st.Indices;
                    }
                }
            }
        }
    }
}
