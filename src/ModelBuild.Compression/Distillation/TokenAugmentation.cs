using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Structure;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// TinyBERT-style data augmentation for KD on scarce text (<c>--augment N</c>): N variants of each training row, which
/// the teacher then labels. A variant replaces each word piece, with probability <see cref="ReplaceProbability"/>
/// (TinyBERT's p_t = 0.4), by one of its <see cref="Neighbours"/> nearest pieces (cosine similarity in the teacher's
/// word-embedding table, among the pieces the training rows use: unused rows of a trained table are noise); then
/// with probability <see cref="EditProbability"/> deletes one piece and with the same probability swaps two (EDA's
/// edits). Padding and the frame tokens every row starts or ends with ([CLS], [SEP]) are never touched; a deletion
/// shifts every [rows, length] input (mask, segment ids) with the ids. Deterministic for a seed.
/// </summary>
internal static class TokenAugmentation
{
    public const double ReplaceProbability = 0.4;
    public const int Neighbours = 15;
    public const double EditProbability = 0.1;

    /// <summary>Whether these variants fit the data (as <see cref="MixupAugmentation.Applies"/> for float rows): token ids only, embedded by the teacher.</summary>
    public static bool Applies(ModelProto teacher, TrainingInputs inputs) =>
        !inputs.ByName().Values.Any(t => t.is_floating_point()) && FindEmbedding(teacher, inputs) is not null;

    /// <summary>The token-id input (the single one, or <c>input_ids</c>) and the teacher's word-embedding table it is gathered from.</summary>
    public static (string IdsInput, TensorProto Table)? FindEmbedding(ModelProto teacher, TrainingInputs inputs)
    {
        string? ids = inputs.IsSingle ? inputs.Names[0] : inputs.Names.FirstOrDefault(n => n.Contains("input_ids", StringComparison.OrdinalIgnoreCase));
        if (ids is null) return null;
        var model = teacher.Clone();
        GraphNormalizer.Normalize(model); // Constant nodes become initializers
        var initializers = model.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in model.Graph.Node) foreach (var o in n.Output) producers[o] = n;
        foreach (var gather in model.Graph.Node.Where(n => n.OpType == "Gather" && n.Input.Count == 2))
        {
            if (!initializers.TryGetValue(gather.Input[0], out var table) || table.Dims.Count != 2) continue;
            // The indices are the ids input itself or the ids through shape-only/cast nodes.
            string source = gather.Input[1];
            while (producers.TryGetValue(source, out var p) && p.OpType is "Cast" or "Identity" or "Reshape" or "Unsqueeze" or "Squeeze" or "Flatten")
                source = p.Input[0];
            if (source == ids) return (ids, table);
        }
        return null;
    }

    /// <summary>
    /// <paramref name="variants"/> variants of each of <paramref name="rows"/> (in that order): every input of the same
    /// [rows, length] shape as the ids is edited along with them; other inputs are copied.
    /// </summary>
    public static TrainingInputs Generate(TrainingInputs inputs, string idsInput, TensorProto table, IReadOnlyList<int> rows, int variants, int seed, long padId)
    {
        var all = inputs.ByName();
        var idsTensor = all[idsInput];
        long length = idsTensor.shape[1];
        var ids = ToLongs(idsTensor);
        var mask = all.TryGetValue(DynamicSequenceTruncation.MaskInput, out var m) && m.shape.SequenceEqual(idsTensor.shape) ? ToLongs(m) : null;
        bool Real(long row, long pos) => mask is not null ? mask[row * length + pos] != 0 : ids[row * length + pos] != padId;
        var (firstFrame, lastFrame) = FrameTokens(ids, length, rows, Real);
        var used = new SortedSet<long>();
        foreach (var r in rows)
            for (long p = 0; p < length; p++)
                if (Real(r, p) && ids[r * length + p] != firstFrame && ids[r * length + p] != lastFrame) used.Add(ids[r * length + p]);
        var neighbours = NearestNeighbours(table, used.ToArray());

        var edited = inputs.Names.Where(n => all[n].shape.SequenceEqual(idsTensor.shape)).ToArray();
        var values = edited.ToDictionary(n => n, n => ToLongs(all[n]), StringComparer.Ordinal);
        var output = edited.ToDictionary(n => n, _ => new long[(long)rows.Count * variants * length], StringComparer.Ordinal);
        var random = new Random(seed);
        long at = 0;
        foreach (var r in rows)
        {
            for (int v = 0; v < variants; v++, at++)
            {
                foreach (var n in edited) Array.Copy(values[n], r * length, output[n], at * length, length);
                var row = output[idsInput].AsSpan((int)(at * length), (int)length);
                var positions = new List<int>();
                for (int p = 0; p < length; p++) if (Real(r, p) && row[p] != firstFrame && row[p] != lastFrame) positions.Add(p);
                foreach (var p in positions)
                    if (random.NextDouble() < ReplaceProbability && neighbours.TryGetValue(row[p], out var near) && near.Length > 0)
                        row[p] = near[random.Next(near.Length)];
                if (positions.Count >= 2 && random.NextDouble() < EditProbability)
                {
                    int i = random.Next(positions.Count), j = random.Next(positions.Count - 1);
                    if (j >= i) j++;
                    (row[positions[i]], row[positions[j]]) = (row[positions[j]], row[positions[i]]);
                }
                if (positions.Count >= 2 && random.NextDouble() < EditProbability)
                {
                    int delete = positions[random.Next(positions.Count)];
                    foreach (var n in edited)
                    {
                        var span = output[n].AsSpan((int)(at * length), (int)length);
                        span[(delete + 1)..].CopyTo(span[delete..]);
                        span[^1] = n == idsInput ? padId : 0;
                    }
                }
            }
        }
        long count = (long)rows.Count * variants;
        using var index = torch.tensor(rows.SelectMany(r => Enumerable.Repeat((long)r, variants)).ToArray());
        return new TrainingInputs(inputs.Names.Select(n => (n, output.TryGetValue(n, out var o)
            ? torch.tensor(o, new[] { count, length }).to_type(all[n].dtype)
            : all[n].index_select(0, index))));
    }

    static long[] ToLongs(Tensor t)
    {
        using var c = t.contiguous().to_type(ScalarType.Int64);
        return c.data<long>().ToArray();
    }

    /// <summary>A token every row starts with, and one every row ends with (its last real position): [CLS] and [SEP]; -1 when none.</summary>
    static (long First, long Last) FrameTokens(long[] ids, long length, IReadOnlyList<int> rows, Func<long, long, bool> real)
    {
        long? first = null, last = null;
        bool firstSame = true, lastSame = true;
        foreach (var r in rows)
        {
            long f = ids[r * length], end = -1;
            for (long p = length - 1; p >= 0 && end < 0; p--) if (real(r, p)) end = ids[r * length + p];
            firstSame &= first is null || first == f;
            lastSame &= last is null || last == end;
            first ??= f;
            last ??= end;
        }
        return (firstSame && rows.Count > 1 ? first ?? -1 : -1, lastSame && rows.Count > 1 ? last ?? -1 : -1);
    }

    /// <summary>For each used token, its nearest used tokens by cosine similarity of the embedding rows (itself excluded).</summary>
    static Dictionary<long, long[]> NearestNeighbours(TensorProto table, long[] used)
    {
        var result = new Dictionary<long, long[]>();
        if (used.Length < 2) return result;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var embedding = TensorProtoConverter.ToTensor(table).to_type(ScalarType.Float32);
        var vectors = embedding.index_select(0, torch.tensor(used));
        var unit = vectors.div(vectors.norm(1, keepdim: true).clamp_min(Kept.Of(1e-12)));
        int k = Math.Min(Neighbours, used.Length - 1);
        // Rows in chunks: a U x U similarity matrix of a real vocabulary's used pieces (tens of thousands) would take
        // gigabytes; a chunk of 1,024 rows takes 1,024 x U floats at a time, with the same result.
        const int Chunk = 1024;
        for (int start = 0; start < used.Length; start += Chunk)
        {
            using var chunkScope = torch.NewDisposeScope();
            int rows = Math.Min(Chunk, used.Length - start);
            var similarity = unit.narrow(0, start, rows).matmul(unit.t());
            // A token is not its own neighbour.
            similarity.index_put_(Kept.Of(float.NegativeInfinity), Kept.Arange(0, rows, ScalarType.Int64), Kept.Arange(start, start + rows, ScalarType.Int64));
            var top = similarity.topk(k, dim: 1).indexes.contiguous().data<long>().ToArray();
            for (int i = 0; i < rows; i++) result[used[start + i]] = Enumerable.Range(0, k).Select(j => used[top[i * k + j]]).ToArray();
        }
        return result;
    }
}
