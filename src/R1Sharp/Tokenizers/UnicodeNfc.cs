using System.Globalization;
using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Unicode NFC (UAX #15) from the tables in Data/nfc-data.txt. Qwen's tokenizer.json normalises with NFC, and
/// .NET's <see cref="string.Normalize()"/> silently does nothing under InvariantGlobalization, which this repo uses.
/// </summary>
public static class UnicodeNfc
{
    // Hangul syllables are composed and decomposed by arithmetic, not by table (UAX #15, section 16).
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    static readonly Dictionary<int, int[]> Decompositions = new();
    static readonly Dictionary<int, byte> CombiningClasses = new();
    static readonly Dictionary<(int First, int Second), int> Compositions = new();
    // Code points that can make NFC differ from the input; text without any of them is returned as is.
    static readonly HashSet<int> MayChange = new();

    static UnicodeNfc()
    {
        using var stream = typeof(UnicodeNfc).Assembly.GetManifestResourceStream("R1Sharp.Tokenizers.nfc-data.txt")
            ?? throw new InvalidOperationException("embedded resource nfc-data.txt is missing");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            string[] f = line.Split(' ');
            int cp = Hex(f[1]);
            switch (f[0])
            {
                case "D": Decompositions[cp] = f[2..].Select(Hex).ToArray(); MayChange.Add(cp); break;
                case "C": CombiningClasses[cp] = byte.Parse(f[2], CultureInfo.InvariantCulture); MayChange.Add(cp); break;
                case "P": Compositions[(cp, Hex(f[2]))] = Hex(f[3]); MayChange.Add(Hex(f[2])); break;
            }
        }
        for (int v = VBase; v < VBase + VCount; v++) MayChange.Add(v);
        for (int t = TBase + 1; t < TBase + TCount; t++) MayChange.Add(t);
    }

    static int Hex(string s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static string Normalize(string text)
    {
        if (!NeedsWork(text)) return text;

        // 1. Full canonical decomposition.
        var cps = new List<int>(text.Length + 8);
        foreach (Rune rune in text.EnumerateRunes()) Decompose(rune.Value, cps);

        // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = CombiningClass(cps[i]);
            if (ccc == 0) continue;
            for (int j = i; j > 0 && CombiningClass(cps[j - 1]) > ccc; j--) (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }

        // 3. Canonical composition: each character joins the last starter unless something in between blocks it.
        var composed = new List<int>(cps.Count);
        int starter = -1, lastClass = 0;
        foreach (int cp in cps)
        {
            int ccc = CombiningClass(cp);
            bool adjacent = starter == composed.Count - 1;
            if (starter >= 0 && (adjacent || (lastClass != 0 && lastClass < ccc))
                && TryCompose(composed[starter], cp, out int composite))
            {
                composed[starter] = composite;
                continue;
            }
            if (ccc == 0) starter = composed.Count;
            lastClass = ccc;
            composed.Add(cp);
        }

        var sb = new StringBuilder(composed.Count);
        foreach (int cp in composed) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    static bool NeedsWork(string text)
    {
        // Everything below U+0300 is stable under NFC.
        if (!text.AsSpan().ContainsAnyExceptInRange('\0', '\u02FF')) return false;
        foreach (Rune rune in text.EnumerateRunes())
            if (MayChange.Contains(rune.Value)) return true;
        return false;
    }

    static int CombiningClass(int cp) => CombiningClasses.TryGetValue(cp, out byte ccc) ? ccc : 0;

    static void Decompose(int cp, List<int> output)
    {
        int s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
        }
        else if (Decompositions.TryGetValue(cp, out int[]? parts)) output.AddRange(parts);
        else output.Add(cp);
    }

    static bool TryCompose(int first, int second, out int composite)
    {
        int l = first - LBase, v = second - VBase, s = first - SBase, t = second - TBase;
        if (l is >= 0 and < LCount && v is >= 0 and < VCount)
        {
            composite = SBase + (l * VCount + v) * TCount;
            return true;
        }
        if (s is >= 0 and < SCount && s % TCount == 0 && t is > 0 and < TCount)
        {
            composite = first + t;
            return true;
        }
        return Compositions.TryGetValue((first, second), out composite);
    }
}
