using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// BERT-style embeddings, LayerNorm(word[ids] + position[0..S) (+ segment[segment_ids])), become ONNX Runtime's
/// EmbedLayerNormalization. Recognized: Gathers on 2-D tables indexed by graph inputs (the first is the word table,
/// a second one the segment table: the sum is the same either way), and positions either as a Gather of 0..S-1 (a
/// Slice of a constant range, as Hugging Face exports it) or as a constant [1,S,H] table added as is. When the raw
/// sum is read elsewhere (the residual of a pre-LN first block) the fused node returns it as embedding_sum.
/// </summary>
public sealed class EmbedLayerNormFusion() : ContribOperatorFusion("EmbedLayerNormalization")
{
    sealed record Match(string Ids, string? SegmentIds, string Word, string? Segment, string? PositionTable, float[]? PositionValues,
        long[]? PositionDims, NodeProto LayerNorm, string Sum, bool SumReadElsewhere, NodeProto[] Nodes);

    protected override int Rewrite(GraphPatterns g)
    {
        var matches = g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "LayerNormalization")).Select(n => Find(g, n)).OfType<Match>().ToList();
        var casts = new Dictionary<string, string>(StringComparer.Ordinal);
        string Int32(string value)
        {
            if (!casts.TryGetValue(value, out var cast))
                casts[value] = cast = g.Graph.AddNode("Cast", [value], attributes: [NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Int32)], outputPrefix: "EmbedLayerNorm_ids").Output[0];
            return cast;
        }
        foreach (var m in matches)
        {
            var ln = m.LayerNorm;
            var position = m.PositionTable ?? g.AddInitializer("EmbedLayerNorm_position", m.PositionValues!, m.PositionDims!);
            var width = g.Constant(m.Word)!.Dims[1];
            var beta = ln.Input.Count > 2 && ln.Input[2].Length > 0 ? ln.Input[2] : g.AddInitializer("EmbedLayerNorm_beta", new float[width], width);
            var inputs = new[] { Int32(m.Ids), m.SegmentIds is null ? "" : Int32(m.SegmentIds), m.Word, position, m.Segment ?? "", ln.Input[1], beta };
            var maskIndex = g.Graph.MakeUniqueName("EmbedLayerNorm_mask_index");
            string[] outputs = m.SumReadElsewhere ? [ln.Output[0], maskIndex, m.Sum] : [ln.Output[0], maskIndex];
            g.Fuse("EmbedLayerNormalization", inputs, outputs, m.Nodes, outputPrefix: "EmbedLayerNorm", [NodeAttributes.Float("epsilon", ln.GetFloat("epsilon", 1e-5f))]);
        }
        return g.CommitFused(matches.Count);
    }

    static Match? Find(GraphPatterns g, NodeProto ln)
    {
        if (ln.GetInt("axis", -1) != -1 || ln.Output.Count > 1) return null;
        var sum = ln.Input[0];
        var root = g.Producer(sum);
        if (!GraphPatterns.Is(root, "Add")) return null;
        // Leaves of the Add tree under the LayerNorm (inner Adds read only by the tree).
        var adds = new List<NodeProto>();
        var leaves = new List<string>();
        void Walk(NodeProto add)
        {
            adds.Add(add);
            foreach (var input in add.Input)
            {
                var p = g.Producer(input);
                if (GraphPatterns.Is(p, "Add") && g.IsPrivateTo(input, add)) Walk(p!);
                else leaves.Add(input);
            }
        }
        Walk(root!);
        if (leaves.Count is < 2 or > 3) return null;
        var nodes = new List<NodeProto>(adds) { ln };
        var tables = new List<(string Table, string Ids)>();
        string? positionTable = null;
        float[]? positionValues = null;
        long[]? positionDims = null;
        foreach (var leaf in leaves)
        {
            var gather = g.Producer(leaf);
            if (GraphPatterns.Is(gather, "Gather") && gather!.GetInt("axis", 0) == 0 && g.IsPrivateTo(leaf, adds.ToArray())
                && g.Constant(gather.Input[0]) is { Dims.Count: 2 } table && table.DataType == (int)TensorProto.Types.DataType.Float)
            {
                if (g.Graph.IsGraphInput(gather.Input[1]) && !g.IsConstant(gather.Input[1]))
                {
                    tables.Add((gather.Input[0], gather.Input[1]));
                    nodes.Add(gather);
                    continue;
                }
                if (positionTable is null && positionValues is null && IsPositionRange(g, gather.Input[1]))
                {
                    positionTable = gather.Input[0];
                    nodes.Add(gather);
                    continue;
                }
                return null;
            }
            // A learned position table added as a constant [1,S,H] (or [S,H]).
            if (positionTable is null && positionValues is null && g.Constant(leaf) is { } constant && constant.DataType == (int)TensorProto.Types.DataType.Float
                && constant.Dims.Count is 2 or 3 && (constant.Dims.Count == 2 || constant.Dims[0] == 1))
            {
                positionValues = g.Floats(leaf);
                positionDims = [constant.Dims[^2], constant.Dims[^1]];
                continue;
            }
            return null;
        }
        if (tables.Count is 0 or > 2 || positionTable is null && positionValues is null) return null;
        var width = g.Constant(tables[0].Table)!.Dims[1];
        if (tables.Any(t => g.Constant(t.Table)!.Dims[1] != width)) return null;
        if ((positionTable is not null ? g.Constant(positionTable)!.Dims[1] : positionDims![1]) != width) return null;
        var readElsewhere = !g.IsPrivateTo(sum, ln);
        return new Match(tables[0].Ids, tables.Count > 1 ? tables[1].Ids : null, tables[0].Table, tables.Count > 1 ? tables[1].Table : null,
            positionTable, positionValues, positionDims, ln, sum, readElsewhere, nodes.ToArray());
    }

    /// <summary>Position ids 0..S-1: Slice(constant [1,M] or [M] holding 0..M-1, starts 0, along its last axis, step 1).</summary>
    static bool IsPositionRange(GraphPatterns g, string ids)
    {
        var slice = g.Producer(ids);
        if (!GraphPatterns.Is(slice, "Slice") || slice!.Input.Count < 3) return false;
        var range = g.Constant(slice.Input[0]);
        if (range is null || range.Dims.Count is not (1 or 2) || range.Dims.Count == 2 && range.Dims[0] != 1) return false;
        var values = g.Int64s(slice.Input[0]);
        if (values is null || values.Where((v, i) => v != i).Any()) return false;
        var starts = g.Int64s(slice.Input[1]);
        var axes = slice.Input.Count > 3 && slice.Input[3].Length > 0 ? g.Int64s(slice.Input[3]) : [range.Dims.Count - 1];
        var steps = slice.Input.Count > 4 && slice.Input[4].Length > 0 ? g.Int64s(slice.Input[4]) : [1];
        var last = range.Dims.Count - 1;
        return starts is [0] && axes is [var a] && (a == last || a == -1) && steps is [1];
    }
}
