using Onnx;

namespace ModelBuild.Onnx.Graph;

/// <summary>
/// The one walk over a graph and the bodies of its If/Loop/Scan nodes (graph-valued attributes), at any depth. Code
/// that needs a graph's bodies asks here rather than reading <c>AttributeProto.G</c>/<c>Graphs</c> itself.
/// </summary>
public static class GraphTraversal
{
    /// <summary>The subgraphs a node holds (an If's branches, a Loop's or Scan's body): each graph attribute's, then each graphs attribute's.</summary>
    public static IEnumerable<GraphProto> Bodies(NodeProto node)
    {
        foreach (var attribute in node.Attribute)
        {
            if (attribute.G is not null) yield return attribute.G;
            foreach (var g in attribute.Graphs) yield return g;
        }
    }

    /// <summary>The bodies of the graph's own nodes, in node order; not the bodies nested in those.</summary>
    public static IEnumerable<GraphProto> Bodies(GraphProto graph) => graph.Node.SelectMany(Bodies);

    /// <summary>
    /// The graph and all nested subgraphs, depth first, each graph before its bodies, each with the node that holds it
    /// (null for <paramref name="graph"/> itself). Lazy: a graph's bodies are read after the caller has seen the graph.
    /// </summary>
    public static IEnumerable<(GraphProto Graph, NodeProto? Owner)> AllGraphsWithOwners(GraphProto graph) =>
        Walk(graph, null);

    static IEnumerable<(GraphProto Graph, NodeProto? Owner)> Walk(GraphProto graph, NodeProto? owner)
    {
        yield return (graph, owner);
        foreach (var node in graph.Node)
            foreach (var body in Bodies(node))
                foreach (var nested in Walk(body, node))
                    yield return nested;
    }

    /// <summary>The graph and all nested subgraphs, outermost first (<see cref="AllGraphsWithOwners"/>' order).</summary>
    public static IEnumerable<GraphProto> AllGraphs(GraphProto graph) => AllGraphsWithOwners(graph).Select(s => s.Graph);

    /// <summary>Every node of the graph and of its bodies at any depth, graph by graph in <see cref="AllGraphs"/>' order.</summary>
    public static IEnumerable<NodeProto> AllNodes(GraphProto graph) => AllGraphs(graph).SelectMany(g => g.Node);

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
