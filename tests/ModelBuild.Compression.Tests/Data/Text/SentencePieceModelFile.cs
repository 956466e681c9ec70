using System.Buffers.Binary;
using System.Text;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>
/// A small SentencePiece <c>.model</c> file (the ModelProto of google/sentencepiece's sentencepiece_model.proto, as
/// protobuf bytes): pieces with scores and types, the trainer spec's model type and special ids, the normalizer spec's
/// whitespace handling. A test fixture written here because no real .model ships with the shared data or the NuGet
/// cache; tokenizing it is left to Microsoft.ML.Tokenizers.
/// </summary>
internal static class SentencePieceModelFile
{
    public enum ModelType { Unigram = 1, Bpe = 2, Word = 3 }

    /// <summary>sentencepiece_model.proto's SentencePiece.Type.</summary>
    public enum PieceType { Normal = 1, Unknown = 2, Control = 3 }

    /// <summary>&lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, &lt;pad&gt; 3, then <paramref name="pieces"/> (ids 4, 5, ...).</summary>
    public static byte[] Create(ModelType type, IReadOnlyList<(string Piece, float Score)> pieces)
    {
        var model = new MemoryStream();
        Piece(model, "<unk>", 0, PieceType.Unknown);
        Piece(model, "<s>", 0, PieceType.Control);
        Piece(model, "</s>", 0, PieceType.Control);
        Piece(model, "<pad>", 0, PieceType.Control);
        foreach (var (piece, score) in pieces) Piece(model, piece, score, PieceType.Normal);

        var trainer = new MemoryStream();
        Varint(trainer, 3, (ulong)type);
        Varint(trainer, 4, (ulong)(pieces.Count + 4));
        Varint(trainer, 40, 0); Varint(trainer, 41, 1); Varint(trainer, 42, 2); Varint(trainer, 43, 3);
        Text(trainer, 45, "<unk>"); Text(trainer, 46, "<s>"); Text(trainer, 47, "</s>"); Text(trainer, 48, "<pad>");
        Bytes(model, 2, trainer.ToArray());

        // No precompiled charsmap: the identity normalization; spaces become U+2581 with one in front of the text.
        var normalizer = new MemoryStream();
        Text(normalizer, 1, "identity");
        Varint(normalizer, 3, 1); Varint(normalizer, 4, 1); Varint(normalizer, 5, 1);
        Bytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    static void Piece(Stream model, string piece, float score, PieceType type)
    {
        var message = new MemoryStream();
        Text(message, 1, piece);
        Tag(message, 2, 5);
        Span<byte> fixed32 = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(fixed32, score);
        message.Write(fixed32);
        Varint(message, 3, (ulong)type);
        Bytes(model, 1, message.ToArray());
    }

    static void Text(Stream s, int field, string value) => Bytes(s, field, Encoding.UTF8.GetBytes(value));

    static void Bytes(Stream s, int field, byte[] value)
    {
        Tag(s, field, 2);
        Raw(s, (ulong)value.Length);
        s.Write(value);
    }

    static void Varint(Stream s, int field, ulong value)
    {
        Tag(s, field, 0);
        Raw(s, value);
    }

    static void Tag(Stream s, int field, int wireType) => Raw(s, (ulong)((field << 3) | wireType));

    static void Raw(Stream s, ulong value)
    {
        while (value >= 0x80) { s.WriteByte((byte)(value | 0x80)); value >>= 7; }
        s.WriteByte((byte)value);
    }
}
