using System.Buffers.Binary;
using System.Text;

namespace ModelBuild.Compression.Native;

/// <summary>Reads the symbol versions a shared library defines (ELF <c>.gnu.version_d</c>), e.g. libstdc++'s GLIBCXX_3.4.*.</summary>
internal static class ElfVersionDefinitions
{
    private const uint ShtGnuVerdef = 0x6ffffffd;

    public static HashSet<string> Read(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("Not a 64-bit little-endian ELF file.");
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3a));
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3c));
        var result = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < shnum; i++)
        {
            var header = (int)(shoff + (long)i * shentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(header + 4)) != ShtGnuVerdef) continue;
            var offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(header + 0x18));
            var link = (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(header + 0x28));
            var strtab = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)(shoff + (long)link * shentsize) + 0x18));
            while (true)
            {
                // Verdef: vd_version, vd_flags, vd_ndx, vd_cnt (u16 each), vd_hash, vd_aux, vd_next (u32 each).
                var aux = offset + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(offset + 12));
                var nameOffset = strtab + BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux));
                var end = Array.IndexOf(elf, (byte)0, (int)nameOffset);
                result.Add(Encoding.ASCII.GetString(elf, (int)nameOffset, end - (int)nameOffset));
                var next = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(offset + 16));
                if (next == 0) break;
                offset += (int)next;
            }
        }
        return result;
    }
}
