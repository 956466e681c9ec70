using System.Buffers.Binary;
using System.Text;

namespace ModelBuild.Compression.Native;

/// <summary>
/// Marks chosen symbol-version requirements (ELF <c>.gnu.version_r</c> entries) of a 64-bit little-endian shared
/// library as weak (<c>VER_FLG_WEAK</c>). glibc's loader refuses a library whose required version is missing from
/// the providing library, but only warns about a weak one; symbols of that version still fail if they are ever
/// bound, so this is safe only for versions whose symbols the library never relocates (checked by
/// <see cref="RelocatesSymbolOfVersion"/>).
/// </summary>
internal static class ElfWeakVersionPatcher
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const uint ShtDynsym = 11;
    private const uint ShtRela = 4;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The version names (e.g. <c>GLIBCXX_3.4.32</c>) required from <paramref name="fromLibrary"/>.</summary>
    public static IReadOnlyList<string> RequiredVersions(byte[] elf, string fromLibrary)
    {
        var result = new List<string>();
        foreach (var (file, name, _, _) in EnumerateVersionNeeds(elf))
        {
            if (file == fromLibrary) result.Add(name);
        }
        return result;
    }

    /// <summary>Sets VER_FLG_WEAK on each requirement of <paramref name="versions"/> from <paramref name="fromLibrary"/>; returns how many were changed.</summary>
    public static int MarkWeak(byte[] elf, string fromLibrary, IReadOnlyCollection<string> versions)
    {
        var changed = 0;
        foreach (var (file, name, flagsOffset, _) in EnumerateVersionNeeds(elf))
        {
            if (file != fromLibrary || !versions.Contains(name)) continue;
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset));
            if ((flags & VerFlgWeak) != 0) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsOffset), (ushort)(flags | VerFlgWeak));
            changed++;
        }
        return changed;
    }

    /// <summary>True when any relocation refers to a dynamic symbol bound to <paramref name="version"/>.</summary>
    public static bool RelocatesSymbolOfVersion(byte[] elf, string version)
    {
        var sections = ReadSections(elf);
        var verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed);
        var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        var dynsym = sections.FirstOrDefault(s => s.Type == ShtDynsym);
        if (verneed is null || versym is null || dynsym is null) return false;
        var index = EnumerateVersionNeeds(elf).Where(v => v.Name == version).Select(v => v.Index).ToHashSet();
        if (index.Count == 0) return false;
        foreach (var rela in sections.Where(s => s.Type == ShtRela && s.Link == sections.IndexOf(dynsym)))
        {
            for (long at = rela.Offset; at + 24 <= rela.Offset + rela.Size; at += 24)
            {
                var info = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)at + 8));
                var symbol = (int)(info >> 32);
                if (symbol == 0) continue;
                var symbolVersion = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)versym.Offset + symbol * 2)) & 0x7fff;
                if (index.Contains(symbolVersion)) return true;
            }
        }
        return false;
    }

    private static IEnumerable<(string File, string Name, int FlagsOffset, int Index)> EnumerateVersionNeeds(byte[] elf)
    {
        var sections = ReadSections(elf);
        var verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed)
            ?? throw new InvalidDataException("The library has no .gnu.version_r section.");
        var strtab = sections[(int)verneed.Link];
        var offset = (int)verneed.Offset;
        while (true)
        {
            var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(offset + 2));
            var file = ReadString(elf, strtab.Offset + BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(offset + 4)));
            var aux = offset + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(offset + 8));
            for (var i = 0; i < count; i++)
            {
                var name = ReadString(elf, strtab.Offset + BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 8)));
                var index = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(aux + 6)) & 0x7fff;
                yield return (file, name, aux + 4, index);
                var nextAux = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 12));
                if (nextAux == 0) break;
                aux += (int)nextAux;
            }
            var next = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(offset + 12));
            if (next == 0) yield break;
            offset += (int)next;
        }
    }

    private sealed record Section(uint Type, long Offset, long Size, uint Link);

    private static List<Section> ReadSections(byte[] elf)
    {
        // ELF64, little-endian only: the libraries this serves are linux-x64 builds.
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("Not a 64-bit little-endian ELF file.");
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3a));
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3c));
        var sections = new List<Section>(shnum);
        for (var i = 0; i < shnum; i++)
        {
            var at = (int)(shoff + (long)i * shentsize);
            sections.Add(new Section(
                BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(at + 4)),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(at + 0x18)),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(at + 0x20)),
                BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(at + 0x28))));
        }
        return sections;
    }

    private static string ReadString(byte[] elf, long offset)
    {
        var end = Array.IndexOf(elf, (byte)0, (int)offset);
        return Encoding.ASCII.GetString(elf, (int)offset, end - (int)offset);
    }
}
