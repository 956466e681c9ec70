using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Onnx.Graph;

/// <summary>
/// Graph helpers over a <see cref="GraphProto"/>: who produces and who consumes each value, topological
/// order, initializer and value_info lookup, and node/initializer editing that keeps names unique.
/// Indices are built lazily and dropped by every edit made through this class; after editing the
/// GraphProto directly, call <see cref="Invalidate"/>.
/// </summary>
public sealed class OnnxGraph
{
    private Dictionary<string, NodeProto>? _producers;
    private Dictionary<string, List<NodeProto>>? _consumers;
    private Dictionary<string, TensorProto>? _initializers;
    private HashSet<string>? _usedNames;

    public OnnxGraph(GraphProto proto, string? modelName = null)
    {
        Proto = proto ?? throw new ArgumentNullException(nameof(proto));
        ModelName = modelName;
    }

    public GraphProto Proto { get; }

    /// <summary>Names the model in errors.</summary>
    public string? ModelName { get; }

    public IList<NodeProto> Nodes => Proto.Node;

    /// <summary>Forgets cached indices (call after editing <see cref="Proto"/> directly).</summary>
    public void Invalidate()
    {
        _producers = null;
        _consumers = null;
        _initializers = null;
        _usedNames = null;
    }

    /// <summary>The node that outputs <paramref name="valueName"/>, or null (graph input, initializer or unknown).</summary>
    public NodeProto? GetProducer(string valueName)
    {
        BuildValueIndex();
        return _producers!.GetValueOrDefault(valueName);
    }

    /// <summary>The nodes that read <paramref name="valueName"/> (each once, in graph order), including nodes whose subgraphs read it.</summary>
    public IReadOnlyList<NodeProto> GetConsumers(string valueName)
    {
        BuildValueIndex();
        return _consumers!.TryGetValue(valueName, out var list) ? list : Array.Empty<NodeProto>();
    }

    public bool IsGraphInput(string valueName) => Proto.Input.Any(i => i.Name == valueName);

    public bool IsGraphOutput(string valueName) => Proto.Output.Any(o => o.Name == valueName);

    /// <summary>Graph inputs that are not initializers (older IRs list initializers as inputs too).</summary>
    public IEnumerable<ValueInfoProto> RealInputs()
    {
        BuildInitializerIndex();
        return Proto.Input.Where(i => !_initializers!.ContainsKey(i.Name));
    }

    public bool TryGetInitializer(string name, out TensorProto tensor)
    {
        BuildInitializerIndex();
        return _initializers!.TryGetValue(name, out tensor!);
    }

    public TensorProto? GetInitializer(string name) => TryGetInitializer(name, out var t) ? t : null;

    /// <summary>The value_info of a value, looked up in graph inputs, outputs and value_info.</summary>
    public ValueInfoProto? GetValueInfo(string name) =>
        Proto.Input.FirstOrDefault(v => v.Name == name)
        ?? Proto.Output.FirstOrDefault(v => v.Name == name)
        ?? Proto.ValueInfo.FirstOrDefault(v => v.Name == name);

    /// <summary>Nodes in an order where every node comes after the producers of its inputs (stable: keeps graph order where it can).</summary>
    public IReadOnlyList<NodeProto> TopologicalOrder()
    {
        var nodes = Proto.Node;
        var producerIndex = new Dictionary<string, int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (var output in nodes[i].Output)
            {
                if (output.Length > 0)
                {
                    producerIndex[output] = i;
                }
            }
        }
        var pending = new int[nodes.Count];
        var dependents = new List<int>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            dependents[i] = new List<int>();
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (var input in NodeInputsIncludingSubgraphs(nodes[i]).Distinct())
            {
                if (producerIndex.TryGetValue(input, out int p))
                {
                    pending[i]++;
                    dependents[p].Add(i);
                }
            }
        }
        // Min-heap on the original index keeps the result as close to the stored order as possible.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (pending[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }
        var order = new List<NodeProto>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i]);
            foreach (int d in dependents[i])
            {
                if (--pending[d] == 0)
                {
                    ready.Enqueue(d, d);
                }
            }
        }
        if (order.Count != nodes.Count)
        {
            var stuck = Enumerable.Range(0, nodes.Count).Where(i => pending[i] > 0).Select(i => Describe(nodes[i]));
            throw OnnxErrors.Cycle(ModelName, stuck);
        }
        return order;
    }

    /// <summary>Reorders <see cref="GraphProto.Node"/> topologically (MB0022 on a cycle).</summary>
    public void SortTopologically()
    {
        var order = TopologicalOrder();
        Proto.Node.Clear();
        Proto.Node.AddRange(order);
        Invalidate();
    }

    /// <summary>
    /// A name not used by any node or value in this graph: <paramref name="prefix"/> itself when free, else
    /// prefix_1, prefix_2, ... The name is reserved, so consecutive calls never return the same name.
    /// </summary>
    public string MakeUniqueName(string prefix)
    {
        BuildNameIndex();
        string candidate = prefix;
        for (int n = 1; !_usedNames!.Add(candidate); n++)
        {
            candidate = $"{prefix}_{n}";
        }
        return candidate;
    }

    /// <summary>Appends a node (see <see cref="InsertNode"/>).</summary>
    public NodeProto AddNode(NodeProto node) => InsertNode(Proto.Node.Count, node);

    /// <summary>Inserts a node at <paramref name="index"/>; gives it a unique name when it has none or a taken one.</summary>
    public NodeProto InsertNode(int index, NodeProto node)
    {
        BuildNameIndex();
        if (string.IsNullOrEmpty(node.Name) || _usedNames!.Contains(node.Name))
        {
            node.Name = MakeUniqueName(string.IsNullOrEmpty(node.Name) ? node.OpType : node.Name);
        }
        else
        {
            _usedNames.Add(node.Name);
        }
        foreach (var output in node.Output)
        {
            _usedNames!.Add(output);
        }
        Proto.Node.Insert(index, node);
        DropValueIndices();
        return node;
    }

    public NodeProto InsertNodeBefore(NodeProto anchor, NodeProto node) => InsertNode(IndexOf(anchor), node);

    public NodeProto InsertNodeAfter(NodeProto anchor, NodeProto node) => InsertNode(IndexOf(anchor) + 1, node);

    /// <summary>
    /// Creates and appends a node. Inputs are value names ("" for an omitted optional input); outputs get
    /// unique names made from <paramref name="outputPrefix"/> when not given.
    /// </summary>
    public NodeProto AddNode(string opType, IEnumerable<string> inputs, IEnumerable<string>? outputs = null,
        string? name = null, string domain = "", IEnumerable<AttributeProto>? attributes = null, string? outputPrefix = null)
    {
        var node = new NodeProto { OpType = opType, Domain = domain, Name = name ?? "" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs ?? new[] { MakeUniqueName(outputPrefix ?? (name ?? opType) + "_output") });
        if (attributes is not null)
        {
            node.Attribute.AddRange(attributes);
        }
        return AddNode(node);
    }

    /// <summary>Removes a node (its outputs become dangling unless rewired; see <see cref="ReplaceAllUses"/>).</summary>
    public bool RemoveNode(NodeProto node)
    {
        bool removed = Proto.Node.Remove(node);
        if (removed)
        {
            Invalidate();
        }
        return removed;
    }

    /// <summary>
    /// Makes every consumer (and graph output) that reads <paramref name="oldName"/> read <paramref name="newName"/>.
    /// Returns the number of rewired uses.
    /// </summary>
    public int ReplaceAllUses(string oldName, string newName)
    {
        int count = 0;
        foreach (var node in Proto.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == oldName)
                {
                    node.Input[i] = newName;
                    count++;
                }
            }
        }
        foreach (var output in Proto.Output)
        {
            if (output.Name == oldName)
            {
                output.Name = newName;
                count++;
            }
        }
        DropValueIndices();
        return count;
    }

    /// <summary>Adds an initializer; its name must be unused (use <see cref="MakeUniqueName"/>).</summary>
    public void AddInitializer(TensorProto tensor)
    {
        BuildInitializerIndex();
        if (_initializers!.ContainsKey(tensor.Name))
        {
            throw new InvalidOperationException($"The graph already has an initializer named '{tensor.Name}'.");
        }
        Proto.Initializer.Add(tensor);
        _initializers[tensor.Name] = tensor;
        _usedNames?.Add(tensor.Name);
    }

    /// <summary>Removes an initializer (and its entry among graph inputs, as older IRs list it there).</summary>
    public bool RemoveInitializer(string name)
    {
        var tensor = GetInitializer(name);
        if (tensor is null)
        {
            return false;
        }
        Proto.Initializer.Remove(tensor);
        var input = Proto.Input.FirstOrDefault(i => i.Name == name);
        if (input is not null)
        {
            Proto.Input.Remove(input);
        }
        Invalidate();
        return true;
    }

    /// <summary>Removes nodes whose outputs nobody reads (graph outputs count as reads), and initializers nobody reads.</summary>
    public int RemoveUnusedNodesAndInitializers()
    {
        int removed = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            var used = new HashSet<string>(Proto.Output.Select(o => o.Name));
            foreach (var node in Proto.Node)
            {
                foreach (var input in NodeInputsIncludingSubgraphs(node))
                {
                    used.Add(input);
                }
            }
            for (int i = Proto.Node.Count - 1; i >= 0; i--)
            {
                if (!Proto.Node[i].Output.Any(used.Contains))
                {
                    Proto.Node.RemoveAt(i);
                    removed++;
                    changed = true;
                }
            }
            if (!changed)
            {
                for (int i = Proto.Initializer.Count - 1; i >= 0; i--)
                {
                    if (!used.Contains(Proto.Initializer[i].Name))
                    {
                        string name = Proto.Initializer[i].Name;
                        Proto.Initializer.RemoveAt(i);
                        var input = Proto.Input.FirstOrDefault(v => v.Name == name);
                        if (input is not null)
                        {
                            Proto.Input.Remove(input);
                        }
                        removed++;
                    }
                }
            }
        }
        Invalidate();
        return removed;
    }

    /// <summary>Node inputs plus outer-scope values read inside its subgraphs (If/Loop/Scan bodies).</summary>
    public static IEnumerable<string> NodeInputsIncludingSubgraphs(NodeProto node)
    {
        foreach (var input in node.Input)
        {
            if (input.Length > 0)
            {
                yield return input;
            }
        }
        foreach (var body in GraphTraversal.Bodies(node))
        {
            foreach (var name in OuterScopeReads(body)) yield return name;
        }
    }

    private static IEnumerable<string> OuterScopeReads(GraphProto graph)
    {
        var local = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Initializer.Select(i => i.Name)));
        foreach (var node in graph.Node)
        {
            foreach (var o in node.Output) local.Add(o);
        }
        foreach (var node in graph.Node)
        {
            foreach (var input in NodeInputsIncludingSubgraphs(node))
            {
                if (!local.Contains(input))
                {
                    yield return input;
                }
            }
        }
    }

    private int IndexOf(NodeProto anchor)
    {
        int index = Proto.Node.IndexOf(anchor);
        if (index < 0)
        {
            throw new ArgumentException($"Node '{anchor.Name}' is not in this graph.", nameof(anchor));
        }
        return index;
    }

    private static string Describe(NodeProto node) => string.IsNullOrEmpty(node.Name) ? $"{node.OpType}({string.Join(",", node.Output)})" : node.Name;

    private void DropValueIndices()
    {
        _producers = null;
        _consumers = null;
    }

    private void BuildValueIndex()
    {
        if (_producers is not null)
        {
            return;
        }
        var producers = new Dictionary<string, NodeProto>();
        var consumers = new Dictionary<string, List<NodeProto>>();
        foreach (var node in Proto.Node)
        {
            foreach (var output in node.Output)
            {
                if (output.Length > 0)
                {
                    producers[output] = node;
                }
            }
            foreach (var input in NodeInputsIncludingSubgraphs(node).Distinct())
            {
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = new List<NodeProto>();
                }
                list.Add(node);
            }
        }
        _producers = producers;
        _consumers = consumers;
    }

    private void BuildInitializerIndex()
    {
        if (_initializers is not null)
        {
            return;
        }
        var map = new Dictionary<string, TensorProto>();
        foreach (var t in Proto.Initializer)
        {
            map[t.Name] = t;
        }
        _initializers = map;
    }

    private void BuildNameIndex()
    {
        if (_usedNames is not null)
        {
            return;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in GraphTraversal.AllGraphs(Proto))
        {
            foreach (var v in g.Input) names.Add(v.Name);
            foreach (var v in g.Output) names.Add(v.Name);
            foreach (var v in g.ValueInfo) names.Add(v.Name);
            foreach (var t in g.Initializer) names.Add(t.Name);
            foreach (var node in g.Node)
            {
                if (node.Name.Length > 0) names.Add(node.Name);
                foreach (var i in node.Input) names.Add(i);
                foreach (var o in node.Output) names.Add(o);
            }
        }
        names.Remove("");
        _usedNames = names;
    }
}
