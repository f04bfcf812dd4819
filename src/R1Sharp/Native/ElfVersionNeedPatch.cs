using System.Buffers.Binary;
using System.Text;

namespace R1Sharp.Native;

/// <summary>
/// Edits an ELF64 little-endian shared object so that one required symbol version (e.g. GLIBCXX_3.4.32)
/// becomes optional: the version's entry in <c>.gnu.version_r</c> is marked weak (vna_flags = VER_FLG_WEAK)
/// and every undefined dynamic symbol bound to it loses its version (versym = 1, "global").
/// The dynamic loader then accepts a libstdc++ that lacks that version, as long as nothing really calls
/// the symbols that needed it.
/// </summary>
public static class ElfVersionNeedPatch
{
    const uint ShtDynsym = 11;
    const uint ShtGnuVerneed = 0x6ffffffe;
    const uint ShtGnuVersym = 0x6fffffff;
    const ushort VerFlagWeak = 2;
    const ushort VersymGlobal = 1;

    public sealed record Result(bool Found, bool AlreadyWeak, IReadOnlyList<string> UnversionedSymbols);

    /// <summary>Describes what <see cref="Apply"/> would change, without changing anything.</summary>
    public static Result Inspect(byte[] elf, string version) => Run(elf, version, write: false);

    /// <summary>Patches <paramref name="elf"/> in memory. Returns what it found and changed.</summary>
    public static Result Apply(byte[] elf, string version) => Run(elf, version, write: true);

    static Result Run(byte[] elf, string version, bool write)
    {
        var span = elf.AsSpan();
        if (elf.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (span[4] != 2 || span[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");

        ulong shoff = U64(span, 0x28);
        int shentsize = U16(span, 0x3A), shnum = U16(span, 0x3C);
        if (shentsize < 64 || shoff + (ulong)(shentsize * shnum) > (ulong)elf.Length)
            throw new InvalidDataException("ELF section header table is out of bounds");

        Section? verneed = null, versym = null, dynsym = null;
        var sections = new Section[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int h = checked((int)shoff + i * shentsize);
            var s = new Section(U32(span, h + 4), checked((int)U64(span, h + 0x18)), checked((int)U64(span, h + 0x20)),
                (int)U32(span, h + 0x28), (int)U32(span, h + 0x2C));
            if (s.Offset + s.Size > elf.Length) throw new InvalidDataException($"ELF section {i} is out of bounds");
            sections[i] = s;
            if (s.Type == ShtGnuVerneed) verneed = s;
            else if (s.Type == ShtGnuVersym) versym = s;
            else if (s.Type == ShtDynsym) dynsym = s;
        }
        if (verneed is null || versym is null || dynsym is null) return new Result(false, false, []);

        // Walk Elf64_Verneed records and their Elf64_Vernaux entries for the named version.
        var verneedStrings = sections[verneed.Link];
        int versionIndex = -1;
        bool alreadyWeak = false;
        int need = verneed.Offset;
        for (int n = 0; n < verneed.Info; n++)
        {
            int count = U16(span, need + 2);
            int aux = need + (int)U32(span, need + 8);
            for (int a = 0; a < count; a++)
            {
                string name = CString(span, verneedStrings.Offset + (int)U32(span, aux + 8));
                if (name == version)
                {
                    versionIndex = U16(span, aux + 6) & 0x7fff;
                    alreadyWeak = (U16(span, aux + 4) & VerFlagWeak) != 0;
                    if (write) BinaryPrimitives.WriteUInt16LittleEndian(span[(aux + 4)..], VerFlagWeak);
                }
                aux += (int)U32(span, aux + 12);
            }
            int next = (int)U32(span, need + 12);
            if (next == 0) break;
            need += next;
        }
        if (versionIndex < 0) return new Result(false, false, []);

        var dynstr = sections[dynsym.Link];
        var cleared = new List<string>();
        int symbolCount = dynsym.Size / 24;
        for (int i = 0; i < symbolCount; i++)
        {
            int slot = versym.Offset + 2 * i;
            if ((U16(span, slot) & 0x7fff) != versionIndex) continue;
            int sym = dynsym.Offset + 24 * i;
            bool undefined = U16(span, sym + 6) == 0;
            if (!undefined) continue;
            cleared.Add(CString(span, dynstr.Offset + (int)U32(span, sym)));
            if (write) BinaryPrimitives.WriteUInt16LittleEndian(span[slot..], VersymGlobal);
        }
        return new Result(true, alreadyWeak, cleared);
    }

    sealed record Section(uint Type, int Offset, int Size, int Link, int Info);

    static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);
    static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
    static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);

    static string CString(ReadOnlySpan<byte> s, int at)
    {
        int end = s[at..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? s[at..] : s.Slice(at, end));
    }
}
