// Builds a labelled corpus for R1Sharp's math answer checker from gold answers written in MATH's style.
// Rerun from the repository root (needs only the .NET SDK):
//
//     dotnet run tests/R1Sharp.Tests/Data/math500/generate.cs
//         reads checker-golds.jsonl (this project's own golds, written in MATH-500's answer style; see README.md)
//         and writes checker-corpus.jsonl beside it: the corpus CheckerCorpusTests runs on.
//
//     dotnet run tests/R1Sharp.Tests/Data/math500/generate.cs -- --golds PATH/test.jsonl --out FILE
//         builds the same kind of corpus from other golds, e.g. MATH-500's published test.jsonl (one JSON object a
//         line with "answer" and "unique_id", as in HuggingFaceH4/MATH-500 or openai/prm800k's math_splits). Grade it
//         with `r1 grade --jsonl FILE`, which reports the agreement with the labels. Such a corpus is for local use:
//         it quotes its golds, so it is never committed.
//
// Each gold gets predictions written the way people and models write answers, labelled by how they were made:
// formatting variants (expected true: the gold itself, spacing, \text{} variants and case, thousands separators,
// \sqrtN shorthand, base subscripts, degrees, fraction and decimal forms, reordered lists, sums and sides) and near
// misses (expected false: another number, another base, another word, a dropped sign, factor, root or list item,
// swapped tuples, flipped interval ends, thousands groups read as a list, hedges). The checker is never called:
// a label comes from the rewrite, not from the thing being tested. Output order and content are deterministic.
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

string directory = ScriptDirectory();
string goldsPath = Path.Combine(directory, "checker-golds.jsonl"), output = Path.Combine(directory, "checker-corpus.jsonl");
bool ownGolds = true, outGiven = false;
for (int i = 0; i < args.Length; i++)
{
    string flag = args[i];
    if (flag is not ("--golds" or "--out")) return Fail($"unknown argument '{flag}' (expected --golds FILE, --out FILE)");
    if (i + 1 >= args.Length) return Fail($"{flag} needs a file name");
    if (flag == "--golds") { goldsPath = args[++i]; ownGolds = false; }
    else { output = args[++i]; outGiven = true; }
}
// The committed corpus is built from our own golds only: other golds need an explicit --out.
if (!ownGolds && !outGiven) return Fail("--golds needs --out FILE (the committed corpus is built from checker-golds.jsonl only)");
if (!File.Exists(goldsPath)) return Fail($"{goldsPath}: no such file");

var golds = new List<(string Id, string Answer)>();
int lineNumber = 0;
foreach (var line in File.ReadLines(goldsPath))
{
    lineNumber++;
    if (line.Trim().Length == 0) continue;
    JsonObject? record;
    try { record = JsonNode.Parse(line) as JsonObject; }
    catch (JsonException e) { return Fail($"{goldsPath}:{lineNumber}: not JSON ({e.Message})"); }
    if (record?["answer"] is not JsonValue answer || answer.GetValueKind() != JsonValueKind.String || ((string)answer!).Trim().Length == 0)
        return Fail($"{goldsPath}:{lineNumber}: needs a non-empty text field 'answer'");
    string id = (record["unique_id"] ?? record["id"]) is JsonValue idValue && idValue.GetValueKind() == JsonValueKind.String ? (string)idValue! : $"line {lineNumber}";
    golds.Add((id, (string)answer!));
}
if (golds.Count == 0) return Fail($"{goldsPath}: no golds");

// How a completion carries its answer; rows rotate through these so every extraction path is exercised.
Func<string, string>[] wrappings =
[
    a => $"\\boxed{{{a}}}",
    a => a,
    a => $"<think>\nWork it out step by step.\n</think>\n\nThe final answer is $\\boxed{{{a}}}$.",
    a => $"Final Answer: The final answer is ${a}$. I hope it is correct.",
    a => $"We simplify and check.\n\n**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]",
    a => $"<think>\nCompute.\n</think>\n<answer>{a}</answer>",
    a => $"The answer is {a}.",
];

var rows = new List<string>();
int rotation = 0;
foreach (var (id, gold) in golds)
{
    var seen = new HashSet<string>();
    var cases = new List<(string Family, string Answer, bool Expected)>();
    // The gold itself always passes, bare and boxed, whatever else happens.
    rows.Add(Row(id, gold, gold, true, "identity", gold));
    rows.Add(Row(id, gold, $"\\boxed{{{gold}}}", true, "identity", gold));
    rows.Add(Row(id, gold, wrappings[2 + rotation++ % (wrappings.Length - 2)](gold), true, "identity", gold));
    seen.Add(gold);
    foreach (var c in Variants(gold)) cases.Add((c.Family, c.Answer, true));
    foreach (var c in NearMisses(gold)) cases.Add((c.Family, c.Answer, false));
    // A rewrite made both as a variant and as a near miss has no label: it is left out, and said so.
    var passing = cases.Where(c => c.Expected).Select(c => c.Answer).Append(gold).ToHashSet();
    foreach (var clash in cases.Where(c => !c.Expected && passing.Contains(c.Answer)).ToList())
    {
        Console.Error.WriteLine($"note: {id}: '{clash.Answer}' was made both as a variant and as a near miss of '{gold}'; left out");
        cases.RemoveAll(c => c.Answer == clash.Answer);
    }
    string? firstMiss = null;
    foreach (var (family, answer, expected) in cases)
    {
        if (!seen.Add(answer)) continue;
        if (!expected) firstMiss ??= answer;
        rows.Add(Row(id, gold, wrappings[rotation++ % wrappings.Length](answer), expected, family, answer));
    }
    // Hedging between the gold and a near miss is no answer.
    if (firstMiss is not null)
        rows.Add(Row(id, gold, $"It is $\\boxed{{{gold}}}$ or maybe $\\boxed{{{firstMiss}}}$.", false, "hedge", firstMiss));
}

// Temp name, then rename: a failed run leaves the old corpus whole.
File.WriteAllText(output + ".tmp", string.Join("\n", rows) + "\n");
File.Move(output + ".tmp", output, overwrite: true);
Console.WriteLine($"{rows.Count} rows ({rows.Count(r => r.Contains("\"expected\":true"))} must pass) from {golds.Count} golds -> {output}");
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine($"error: {message}");
    return 2;
}

static string Row(string id, string gold, string prediction, bool expected, string family, string answer) =>
    new JsonObject
    {
        ["id"] = id, ["family"] = family, ["expected"] = expected, ["gold"] = gold, ["answer"] = answer, ["prediction"] = prediction,
    }.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

static string ScriptDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

// ---------------------------------------------------------------- formatting variants: must pass

static IEnumerable<(string Family, string Answer)> Variants(string gold)
{
    string compact = Compact(gold);
    if (compact != gold) yield return ("spacing", compact);
    // Commas get a space only in lists: "58, 500" is a list, not 58500.
    string spaced = Regex.Replace(gold, Integer(gold) is null ? @"\s*([,=+])\s*" : @"\s*([=+])\s*", "$1 ").Replace("= ", " = ").Replace("+ ", " + ").Trim();
    if (spaced != gold) yield return ("spacing", spaced);
    if (gold.Contains(@"\left")) yield return ("spacing", Regex.Replace(gold, @"\\(left|right)(?=[()\[\]])", ""));

    if (TextWord(gold) is { } word)
    {
        string bare = word.Trim();
        yield return ("text", bare);
        foreach (var command in new[] { "textbf", "mbox", "textrm", "mathrm", "textit" }) yield return ("text", $"\\{command}{{{bare}}}");
        yield return ("text", $"\\text{{ {bare} }}");
        yield return ("text", bare.ToLowerInvariant());
        yield return ("text", bare.ToUpperInvariant());
        if (bare is ['(', var letter, ')']) { yield return ("text", letter.ToString()); yield return ("text", $"\\text{{{letter}}}"); }
    }

    if (Integer(gold) is { } integer)
    {
        bool money = gold.StartsWith(@"\$");
        var forms = integer.TrimStart('-').Length >= 4 ? Separated(integer).ToList() : [integer];
        string family = forms.Count > 1 ? "thousands" : "money";
        foreach (var form in forms)
        {
            if (forms.Count > 1) yield return (family, form);
            if (money) { yield return (family, @"\$" + form); yield return (family, @"\$" + form + ".00"); yield return (family, form + ".00"); }
        }
        if (money) { yield return (family, integer + " dollars"); yield return (family, integer + @"\text{ dollars}"); }
    }
    if (Regex.Match(gold, @"^\\\$(\d+\.\d\d)$") is { Success: true } cents)
    {
        yield return ("money", cents.Groups[1].Value);
        yield return ("money", cents.Groups[1].Value.TrimEnd('0'));
        yield return ("money", cents.Groups[1].Value + @" \text{ dollars}");
    }

    if (Based(gold) is var (digits, numberBase))
    {
        yield return ("base", $"{digits}_{numberBase}");
        yield return ("base", $"{digits}_{{{numberBase}}}");
        yield return ("base", digits);
    }

    if (Regex.Match(gold, @"^(?<x>[^^]+?)\s*\^(?:\\circ|\{\\circ\})$") is { Success: true } degrees)
    {
        string x = degrees.Groups["x"].Value;
        yield return ("degrees", $"{x}^{{\\circ}}");
        yield return ("degrees", $"{x}^\\circ");
        yield return ("degrees", x);
        yield return ("degrees", $"{x}°");
        yield return ("degrees", $"{x} \\text{{ degrees}}");
        yield return ("degrees", $"{x}\\text{{°}}");
    }

    // "25\%" is answered by the number with its sign spelled any way, by the bare number and by the fraction 0.25.
    if (Percent(gold) is { } percent)
    {
        yield return ("percent", percent);
        yield return ("percent", $"{percent}%");
        yield return ("percent", $"{percent} \\%");
        yield return ("percent", $"{percent} percent");
        yield return ("percent", Hundredth(percent));
    }

    // "x \le -2" is "-2 \ge x", also spelled \leq or ≤.
    if (Inequality(gold) is var (left, op, right))
    {
        yield return ("inequality", $"{right} {Mirrored(op)} {left}");
        yield return ("inequality", $"{left} {op switch { @"\le" => @"\leq", @"\ge" => @"\geq", @"\leq" => @"\le", @"\geq" => @"\ge", _ => op }} {right}");
        yield return ("inequality", $"{left} {op switch { @"\le" or @"\leq" => "≤", @"\ge" or @"\geq" => "≥", _ => op }} {right}");
    }

    if (Fraction(gold) is var (negative, top, bottom))
    {
        string minus = negative ? "-" : "";
        yield return ("fraction", $"{minus}\\frac{{{top}}}{{{bottom}}}");
        yield return ("fraction", $"{minus}{top}/{bottom}");
        yield return ("fraction", $"{minus}\\dfrac{{{top}}}{{{bottom}}}");
        yield return ("fraction", $"{minus}\\tfrac{{{top}}}{{{bottom}}}");
        if (negative) yield return ("fraction", $"\\frac{{-{top}}}{{{bottom}}}");
        if (top.Length == 1 && bottom.Length == 1) yield return ("fraction", $"{minus}\\frac{top}{bottom}");
        if (TerminatingDecimal(long.Parse(top), long.Parse(bottom)) is { } decimalForm) yield return ("fraction", minus + decimalForm);
    }
    if (Regex.Match(gold, @"^(?<whole>\d+)\s*\\frac\{(?<n>\d+)\}\{(?<d>\d+)\}$") is { Success: true } mixed)
    {
        long whole = long.Parse(mixed.Groups["whole"].Value), n = long.Parse(mixed.Groups["n"].Value), d = long.Parse(mixed.Groups["d"].Value);
        yield return ("mixed number", $"\\frac{{{whole * d + n}}}{{{d}}}");
        yield return ("mixed number", $"{whole * d + n}/{d}");
        yield return ("mixed number", $"{whole} {n}/{d}");
        if (TerminatingDecimal(whole * d + n, d) is { } decimalForm) yield return ("mixed number", decimalForm);
    }
    // One \frac of expressions: "\frac{x+2}{x-1}" as "(x+2)/(x-1)", "-\frac{\pi}{4}" as "\frac{-\pi}{4}".
    if (Regex.Match(gold, @"^(?<sign>-?)\\d?frac\{(?<n>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{(?<d>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}$") is { Success: true } quotient
        && !Regex.IsMatch(quotient.Groups["n"].Value + quotient.Groups["d"].Value, @"^\d+$"))
    {
        string n = quotient.Groups["n"].Value, d = quotient.Groups["d"].Value, minus = quotient.Groups["sign"].Value;
        yield return ("fraction", $"{minus}({n})/({d})");
        if (minus == "-") yield return ("fraction", $"\\frac{{-{n}}}{{{d}}}");
    }

    if (Regex.Match(gold, @"^(?<sign>-?)(?<whole>\d*)\.(?<fraction>\d+)$") is { Success: true } decimalGold)
    {
        string sign = decimalGold.Groups["sign"].Value, whole = decimalGold.Groups["whole"].Value, fraction = decimalGold.Groups["fraction"].Value;
        yield return ("decimal", $"{sign}{(whole.Length == 0 ? "0" : whole)}.{fraction}");
        if (whole == "0") yield return ("decimal", $"{sign}.{fraction}");
        yield return ("decimal", $"{sign}{(whole.Length == 0 ? "0" : whole)}.{fraction}0");
        var numerator = System.Numerics.BigInteger.Parse(whole + fraction);
        var denominator = System.Numerics.BigInteger.Pow(10, fraction.Length);
        var gcd = System.Numerics.BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!numerator.IsZero) yield return ("decimal", $"{sign}\\frac{{{numerator / gcd}}}{{{denominator / gcd}}}");
        // Scientific notation for small numbers: 0.0036 = 3.6 \times 10^{-3}.
        string significant = (whole + fraction).TrimStart('0');
        if (whole.Trim('0').Length == 0 && significant.Length > 0)
        {
            int exponent = -(fraction.Length - significant.Length + 1);
            string mantissa = significant.Length == 1 ? significant : significant[..1] + "." + significant[1..];
            yield return ("decimal", $"{sign}{mantissa} \\times 10^{{{exponent}}}");
            yield return ("decimal", $"{sign}{mantissa}e{exponent}");
        }
    }

    // \sqrtN shorthand both ways.
    if (Regex.IsMatch(gold, @"\\sqrt\{\d\}")) yield return ("sqrt", Regex.Replace(gold, @"\\sqrt\{(\d)\}", @"\sqrt$1"));
    if (Regex.IsMatch(gold, @"\\sqrt\d")) yield return ("sqrt", Regex.Replace(gold, @"\\sqrt(\d)", @"\sqrt{$1}"));
    if (Regex.IsMatch(gold, @"^\d*\s*\\sqrt\{\d+\}$")) yield return ("sqrt", Regex.Replace(gold, @"\s*\\sqrt\{(\d+)\}", "√$1"));
    // Shorthand fractions written out: "\frac56", "\frac 94", "\frac9{20}", "\frac{35}4".
    if (Regex.IsMatch(gold, @"\\frac\s*\d") || Regex.IsMatch(gold, @"\\frac\{\d+\}\d"))
        yield return ("fraction", Regex.Replace(Regex.Replace(gold, @"\\frac\s*(\d)\s*(\d|\{)", m => $"\\frac{{{m.Groups[1].Value}}}" + (m.Groups[2].Value == "{" ? "{" : $"{{{m.Groups[2].Value}}}")), @"\\frac\{(\d+)\}(\d)", @"\frac{$1}{$2}"));

    // Equations and memberships.
    if (Regex.Match(gold, @"^(?<v>[a-z])\s*=\s*(?<rhs>-?\d+)$") is { Success: true } assignment) yield return ("equation", assignment.Groups["rhs"].Value);
    if (Regex.Match(gold, @"^(?<lhs>[^=]+?)\s*=\s*(?<rhs>[^=]+)$") is { Success: true } equation)
        yield return ("equation", $"{equation.Groups["rhs"].Value} = {equation.Groups["lhs"].Value}");
    if (Regex.Match(gold, @"^[a-z] \\in (?<set>.+)$") is { Success: true } membership) yield return ("equation", membership.Groups["set"].Value);

    // Lists and sets in another order; \pm written out.
    var items = SplitTopLevel(gold, ',');
    bool list = items.Count > 1 && Integer(gold) is null;
    if (list && !IsBracketed(gold) && !gold.StartsWith(@"\{"))
    {
        yield return ("list", string.Join(", ", Enumerable.Reverse(items).Select(i => i.Trim())));
        yield return ("list", $"\\{{{string.Join(", ", items.Select(i => i.Trim()))}\\}}");
    }
    if (gold.StartsWith(@"\{") && gold.EndsWith(@"\}"))
    {
        var members = SplitTopLevel(gold[2..^2], ',').Select(i => i.Trim()).ToList();
        var expanded = members.SelectMany(PlusMinus).ToList();
        yield return ("list", string.Join(", ", Enumerable.Reverse(expanded)));
    }
    if (items.Count == 1 && gold.Contains(@"\pm") && !gold.StartsWith(@"\{"))
    {
        var roots = PlusMinus(gold).ToList();
        yield return ("plus-minus", string.Join(", ", roots));
        yield return ("plus-minus", string.Join(", ", Enumerable.Reverse(roots)));
    }
    var unionParts = gold.Split(@" \cup ");
    if (unionParts.Length == 2) yield return ("list", $"{unionParts[1]} \\cup {unionParts[0]}");

    // Sums with their terms in another order; products with their factors swapped.
    if (Terms(gold) is { Count: > 1 } terms)
    {
        var reversed = Enumerable.Reverse(terms).ToList();
        var text = new StringBuilder(reversed[0].Negative ? "-" + reversed[0].Body : reversed[0].Body);
        foreach (var (minusSign, body) in reversed.Skip(1)) text.Append(minusSign ? " - " : " + ").Append(body);
        yield return ("terms", text.ToString());
    }
    if (Regex.Match(gold, @"^\((?<a>[^()]+)\)\((?<b>[^()]+)\)$") is { Success: true } product) yield return ("terms", $"({product.Groups["b"].Value})({product.Groups["a"].Value})");
    if (Regex.Match(gold, @"^\\(?<f>cot|tan|sin|cos) (?<x>[a-z])$") is { Success: true } call)
    {
        yield return ("function", $"\\{call.Groups["f"].Value}({call.Groups["x"].Value})");
        yield return ("function", $"{call.Groups["f"].Value} {call.Groups["x"].Value}");
    }

    // Unicode and operator spellings models use: π, ∞, a minus sign, an explicit product, \displaystyle.
    if (gold.Contains(@"\pi")) yield return ("unicode", Regex.Replace(gold, @"\\pi(?![a-zA-Z])\s*", "π"));
    if (gold.Contains(@"\infty")) yield return ("unicode", gold.Replace(@"\infty", "∞"));
    if (gold.StartsWith('-')) yield return ("unicode", "−" + gold[1..]);
    if (gold.Contains(@"\infty") && !gold.Contains(@"-\infty")) yield return ("spacing", gold.Replace(@"\infty", @"+\infty"));
    if (Regex.IsMatch(gold, @"^\d+\s*(?:\\sqrt|\\pi)"))
    {
        yield return ("product", Regex.Replace(gold, @"^(\d+)\s*", @"$1 \cdot "));
        yield return ("product", Regex.Replace(gold, @"^(\d+)\s*", @"$1 \times "));
    }
    if (Regex.IsMatch(gold, @"^\d+[a-zA-Z]")) yield return ("product", Regex.Replace(gold, @"^(\d+)", "$1*"));
    if (gold.StartsWith(@"\frac") || gold.StartsWith(@"\dfrac")) yield return ("spacing", @"\displaystyle " + gold);
    if (Fraction(gold) is var (_, improperTop, improperBottom) && long.Parse(improperTop) is var p && long.Parse(improperBottom) is var q && p > q && p % q != 0)
    {
        string minus = gold.StartsWith('-') ? "-" : "";
        yield return ("mixed number", $"{minus}{p / q}\\frac{{{p % q}}}{{{q}}}");
        yield return ("mixed number", $"{minus}{p / q} {p % q}/{q}");
    }

    if (gold.Contains(@"\begin{pmatrix}"))
    {
        yield return ("matrix", gold.Replace("pmatrix", "bmatrix"));
        if (Regex.IsMatch(gold, @"\d/\d")) yield return ("matrix", Regex.Replace(gold, @"(\d+)/(\d+)", @"\frac{$1}{$2}"));
    }
}

/// <summary>Whitespace dropped where it separates nothing: not after a letter ("\cot x"), not between digits.</summary>
static string Compact(string s) => Regex.Replace(s, @"(?<=[^A-Za-z0-9\s])\s+|\s+(?=[^A-Za-z0-9\\\s])|(?<=\d)\s+(?=\\)", "");

static string? TextWord(string gold) =>
    Regex.Match(gold, @"^\\text\{(?<w>\s*(?:[A-Za-z]+|\([A-Z]\))\s*)\}$") is { Success: true } m ? m.Groups["w"].Value : null;

/// <summary>The integer a gold states ("4,\!096", "\$12,\!600", "16,384", "4950"), as plain digits, or null.</summary>
static string? Integer(string gold)
{
    string s = gold.StartsWith(@"\$") ? gold[2..] : gold;
    if (Regex.IsMatch(s, @"^-?\d+$")) return s;
    if (Regex.IsMatch(s, @"^-?\d{1,3}(?:(?:,\\!\s?|,)\d{3})+$")) return Regex.Replace(s, @",\\!\s?|,", "");
    return null;
}

/// <summary>n written with every thousands separator people and MATH use, and plainly.</summary>
static IEnumerable<string> Separated(string digits)
{
    string sign = digits.StartsWith('-') ? "-" : "";
    string body = digits.TrimStart('-');
    var groups = new List<string>();
    for (int end = body.Length; end > 0; end -= 3) groups.Insert(0, body[Math.Max(0, end - 3)..end]);
    yield return sign + body;
    foreach (var separator in new[] { ",", @",\!", @",\! ", "{,}", @"\," }) yield return sign + string.Join(separator, groups);
}

/// <summary>The number of a percent gold ("25\%", "12.5\%"), or null.</summary>
static string? Percent(string gold) => Regex.Match(gold, @"^(?<x>\d+(?:\.\d+)?)\s*\\%$") is { Success: true } m ? m.Groups["x"].Value : null;

/// <summary>x/100 as a decimal: "25" → "0.25", "12.5" → "0.125".</summary>
static string Hundredth(string x) => (decimal.Parse(x, System.Globalization.CultureInfo.InvariantCulture) / 100).ToString(System.Globalization.CultureInfo.InvariantCulture);

/// <summary>One inequality "x > 3", "x \le -2", "-1 < x" as its sides and operator, or null.</summary>
static (string Left, string Op, string Right)? Inequality(string gold) =>
    Regex.Match(gold, @"^(?<l>[^<>=\\]+?)\s*(?<op><|>|\\leq?|\\geq?)(?![a-zA-Z])\s*(?<r>[^<>=]+)$") is { Success: true } m
        ? (m.Groups["l"].Value, m.Groups["op"].Value, m.Groups["r"].Value) : null;

static string Mirrored(string op) => op switch
{
    "<" => ">", ">" => "<", @"\le" => @"\ge", @"\ge" => @"\le", @"\leq" => @"\geq", _ => @"\leq",
};

static (string Digits, int Base)? Based(string gold) =>
    Regex.Match(gold, @"^(?<n>\d+)_\{?(?<b>\d+)\}?$") is { Success: true } m ? (m.Groups["n"].Value, int.Parse(m.Groups["b"].Value)) : null;

/// <summary>A fraction of integers: "\frac{13}{5}", "-\frac{5}{8}", "\dfrac{9}{16}", and shorthand "\frac56", "\frac 94", "\frac9{20}".</summary>
static (bool Negative, string Numerator, string Denominator)? Fraction(string gold)
{
    var m = Regex.Match(gold, @"^(?<sign>-?)\\[dt]?frac(?:\{(?<n>\d+)\}|\s*(?<n>\d))(?:\{(?<d>\d+)\}|\s*(?<d>\d))$");
    return m.Success ? (m.Groups["sign"].Value == "-", m.Groups["n"].Value, m.Groups["d"].Value) : null;
}

/// <summary>n/d as a finite decimal ("1.5", "0.03515625"), or null if it repeats or is long.</summary>
static string? TerminatingDecimal(long n, long d)
{
    long reduced = d / Gcd(n, d);
    while (reduced % 2 == 0) reduced /= 2;
    while (reduced % 5 == 0) reduced /= 5;
    if (reduced != 1) return null;
    string text = ((decimal)n / d).ToString(System.Globalization.CultureInfo.InvariantCulture);
    return text.Length <= 12 ? text : null;
}

static long Gcd(long a, long b) => b == 0 ? Math.Abs(a) : Gcd(b, a % b);

/// <summary>A tuple or interval: "(2,3,-1)", "(2,9]", "\left( 4, \frac{2\pi}{3} \right)" — but not "(-3, 1) \cup (1, 6]".</summary>
static bool IsBracketed(string s)
{
    s = Regex.Replace(s, @"\\(?:left|right)\s*", "");
    return s.Length > 1 && s[0] is '(' or '[' && s[^1] is ')' or ']' && Balanced(s[1..^1]) && SplitTopLevel(s[1..^1], ',').Count > 1;
}

/// <summary>Splits at separators outside (), [], {} (interval ends may be mismatched: "(2,9]").</summary>
static List<string> SplitTopLevel(string s, char separator)
{
    var parts = new List<string>();
    int depth = 0, start = 0;
    for (int i = 0; i < s.Length; i++)
    {
        if (s[i] is '(' or '[' or '{') depth++;
        else if (s[i] is ')' or ']' or '}') depth--;
        else if (s[i] == separator && depth == 0) { parts.Add(s[start..i]); start = i + 1; }
    }
    parts.Add(s[start..]);
    return parts;
}

static bool Balanced(string s)
{
    int depth = 0;
    foreach (char c in s)
    {
        if (c is '(' or '[' or '{') depth++;
        else if (c is ')' or ']' or '}' && --depth < 0) return false;
    }
    return depth == 0;
}

/// <summary>"2 \pm \sqrt{3}" → "2 + \sqrt{3}", "2 - \sqrt{3}"; anything else unchanged.</summary>
static IEnumerable<string> PlusMinus(string s) => s.Contains(@"\pm") ? [s.Replace(@"\pm", "+"), s.Replace(@"\pm", "-")] : [s];

/// <summary>A sum split into signed top-level terms ("3x^3 - 2x + 1"), or null if it isn't a plain sum of terms.</summary>
static List<(bool Negative, string Body)>? Terms(string gold)
{
    if (gold.Contains('=') || gold.Contains(',') || Inequality(gold) is not null || gold.Contains(@"\pm") || gold.Contains(@"\text") || gold.Contains(@"\begin") || gold.Contains(@"\cup")) return null;
    var terms = new List<(bool, string)>();
    int depth = 0, start = 0;
    bool negative = false;
    for (int i = 0; i < gold.Length; i++)
    {
        char c = gold[i];
        if (c is '(' or '[' or '{') depth++;
        else if (c is ')' or ']' or '}') depth--;
        else if (c is '+' or '-' && depth == 0)
        {
            string body = gold[start..i].Trim();
            if (body.Length == 0 && i == 0) { negative = c == '-'; start = i + 1; continue; }
            if (body.Length == 0 || body.EndsWith('^')) return null;
            terms.Add((negative, body));
            negative = c == '-';
            start = i + 1;
        }
    }
    string last = gold[start..].Trim();
    if (last.Length == 0) return null;
    terms.Add((negative, last));
    return terms;
}

// ---------------------------------------------------------------- near misses: must fail

static IEnumerable<(string Family, string Answer)> NearMisses(string gold)
{
    if (AnotherNumber(gold) is { } another) yield return ("another number", another);
    if (Integer(gold) is { } integer && long.TryParse(integer, out long value))
    {
        yield return ("another number", (value + 1).ToString());
        yield return ("another number", (value - 1).ToString());
        if (value != 0) yield return ("another number", (value * 10).ToString());
        if (value != 0) yield return ("flipped sign", (-value).ToString());
        if (integer.TrimStart('-').Length >= 4)
        {
            var groups = Separated(integer).ElementAt(2).Split(@",\!");
            // The groups of a thousands number read as a list, a decimal comma read as a point, a group dropped.
            yield return ("thousands as list", string.Join(", ", groups.Reverse().Select(g => g.TrimStart('0') is { Length: > 0 } t ? t : "0")));
            yield return ("decimal point for separator", integer.Insert(integer.Length - 3, "."));
            yield return ("another number", integer.Remove(integer.Length - 3, 1));
        }
    }

    if (TextWord(gold) is { } word)
    {
        string bare = word.Trim();
        foreach (var other in OtherWords(bare)) { yield return ("another word", $"\\text{{{other}}}"); yield return ("another word", other); }
        if (!bare.StartsWith('(')) yield return ("another word", $"\\text{{not {bare}}}");
    }

    if (Based(gold) is var (digits, numberBase))
    {
        yield return ("another base", $"{digits}_{{{numberBase + 1}}}");
        if (digits.All(d => d - '0' < numberBase - 1)) yield return ("another base", $"{digits}_{numberBase - 1}");
        yield return ("another base", $"{digits}_{{10}}");
        long baseTen = digits.Aggregate(0L, (acc, d) => acc * numberBase + (d - '0'));
        if (baseTen.ToString() != digits) { yield return ("base ten value", baseTen.ToString()); yield return ("base ten value", $"{baseTen}_{{10}}"); }
    }

    if (Regex.Match(gold, @"^(?<x>\d+)\^(?:\\circ|\{\\circ\})$") is { Success: true } degrees && int.Parse(degrees.Groups["x"].Value) is var angle && angle != 90)
        yield return ("supplement", $"{180 - angle}^\\circ");

    if (Percent(gold) is { } percent)
    {
        yield return ("percent of a percent", Hundredth(percent) + @"\%");
        yield return ("flipped sign", $"-{percent}\\%");
    }
    if (Inequality(gold) is var (left, op, right))
    {
        yield return ("flipped inequality", $"{left} {Mirrored(op)} {right}");
        yield return ("strictness", $"{left} {op switch { "<" => @"\le", ">" => @"\ge", @"\le" or @"\leq" => "<", _ => ">" }} {right}");
    }

    if (Fraction(gold) is var (negative, top, bottom))
    {
        if (top != bottom) yield return ("inverted fraction", $"\\frac{{{bottom}}}{{{top}}}");
        long p = long.Parse(top), q = long.Parse(bottom);
        if (TerminatingDecimal(p, q) is null && q != 0)
            yield return ("rounded", (negative ? "-" : "") + Math.Round((double)p / q, 4).ToString("0.0###", System.Globalization.CultureInfo.InvariantCulture));
    }
    if (Regex.Match(gold, @"^(?<whole>\d+)\s*\\frac\{(?<n>\d+)\}\{(?<d>\d+)\}$") is { Success: true } mixed)
    {
        string n = mixed.Groups["n"].Value, d = mixed.Groups["d"].Value;
        yield return ("mixed number misread", $"{mixed.Groups["whole"].Value}{n}/{d}");
        yield return ("dropped whole part", $"\\frac{{{n}}}{{{d}}}");
    }
    if (Regex.Match(gold, @"^(?<sign>-?)(?<whole>\d*)\.(?<fraction>\d+)$") is { Success: true } decimalGold && decimalGold.Groups["fraction"].Value.Length > 1)
    {
        string sign = decimalGold.Groups["sign"].Value, whole = decimalGold.Groups["whole"].Value, fraction = decimalGold.Groups["fraction"].Value;
        yield return ("rounded", $"{sign}{whole}.{fraction[..^1]}");
        yield return ("decimal point moved", $"{sign}{whole}{fraction[0]}.{fraction[1..]}");
    }

    // A dropped sign: the leading minus, or the first binary minus turned plus.
    if (gold.StartsWith('-') && gold.Length > 1) yield return ("dropped sign", gold[1..].TrimStart());
    if (FirstUnaryMinusInside(gold) is int unary) yield return ("dropped sign", gold.Remove(unary, 1));
    if (FirstBinaryMinus(gold) is int binary) yield return ("dropped sign", gold[..binary] + "+" + gold[(binary + 1)..]);

    // A dropped factor: \sqrt{…} or \pi after a coefficient, or the coefficient before them or a variable.
    var factor = Regex.Match(gold, @"(?<=\d)\s*(\\sqrt\{\d+\}|\\sqrt\d|\\pi)(?!\s*\^)");
    if (factor.Success && gold.Remove(factor.Index, factor.Length) is var withoutFactor && !withoutFactor.Contains("{}")) yield return ("dropped factor", withoutFactor);
    var coefficient = Regex.Match(gold, @"(?<=^|[-+(,=]\s*|\\pm\s*)(?<![.\d])([2-9]|\d{2,})(?=\s*(?:\\sqrt|\\pi|[a-zA-Z]))");
    if (coefficient.Success) yield return ("dropped factor", gold.Remove(coefficient.Index, coefficient.Length));
    var root = Regex.Match(gold, @"\\sqrt\{?(?<n>\d+)\}?");
    if (root.Success && root.Groups["n"].Value is not ("0" or "1") && !Regex.IsMatch(gold, @"\\sqrt\d\d"))
    {
        bool afterDigit = root.Index > 0 && char.IsAsciiDigit(gold[..root.Index].TrimEnd()[^1]);
        yield return ("dropped root", gold[..root.Index] + (afterDigit ? @"\cdot " : "") + root.Groups["n"].Value + gold[(root.Index + root.Length)..]);
    }

    // Lists, tuples, intervals: an item dropped, items swapped, an end flipped, the commas lost (a list read as one number).
    var items = SplitTopLevel(gold, ',');
    bool list = items.Count > 1 && Integer(gold) is null;
    if (list && !IsBracketed(gold) && !gold.StartsWith(@"\{")) yield return ("dropped item", string.Join(", ", items.Skip(1).Select(i => i.Trim())));
    if (list || IsBracketed(gold) || gold.Contains(@"\cup")) yield return ("list as one number", Regex.Replace(gold, @"\s*,\s*", ""));
    if (Regex.Match(gold, @"^(?:\\left\s*)?[(\[](?<inner>.*?)(?:\s*\\right\s*)?(?<close>[)\]])$") is { Success: true } bracket
        && Balanced(bracket.Groups["inner"].Value) && SplitTopLevel(bracket.Groups["inner"].Value, ',') is { Count: >= 2 } tuple)
    {
        if (tuple[0].Trim() != tuple[1].Trim() && !gold.Contains(@"\infty"))
            yield return ("swapped items", $"({string.Join(", ", new[] { tuple[1].Trim(), tuple[0].Trim() }.Concat(tuple.Skip(2).Select(t => t.Trim())))})");
        char flipped = bracket.Groups["close"].Value == ")" ? ']' : ')';
        if (!gold.Contains(@"\infty") || flipped == ')') yield return ("flipped interval end", gold[..^1] + flipped);
    }
    // A set with a \pm item: the other items dropped, or for "\{1 \pm \sqrt{6}\}" one of its two roots.
    if (gold.StartsWith(@"\{") && gold.EndsWith(@"\}") && gold.Contains(@"\pm") && SplitTopLevel(gold[2..^2], ',') is var members)
        yield return ("dropped item", members.Count > 1 ? members[0].Trim() : PlusMinus(members[0].Trim()).First());
    if (!gold.Contains(',') && gold.Contains(@"\pm")) yield return ("dropped item", gold.Replace(@"\pm", "+"));
    if (Regex.Match(gold, @"^(?<a>-?\d+)\s*(?<op>[-+])\s*(?<b>\d+)i$") is { Success: true } complex && complex.Groups["a"].Value.TrimStart('-') != complex.Groups["b"].Value)
        yield return ("swapped parts", $"{complex.Groups["b"].Value} {complex.Groups["op"].Value} {complex.Groups["a"].Value.TrimStart('-')}i");
    // A sum with its last term dropped; a difference the wrong way round.
    if (Terms(gold) is { Count: > 1 } terms)
    {
        var kept = terms.SkipLast(1).ToList();
        yield return ("dropped term", (kept[0].Negative ? "-" : "") + kept[0].Body + string.Concat(kept.Skip(1).Select(t => (t.Negative ? " - " : " + ") + t.Body)));
        if (terms.Count == 2 && !terms[0].Negative && terms[1].Negative) yield return ("swapped operands", $"{terms[1].Body} - {terms[0].Body}");
    }
    if (Regex.Match(gold, @"^\\(?<f>cot|tan|sin|cos) (?<x>[a-z])$") is { Success: true } call)
        yield return ("another function", $"\\{(call.Groups["f"].Value == "tan" ? "cot" : "tan")} {call.Groups["x"].Value}");
}

/// <summary>The gold with the last digit of its first number changed (in its base, for "152_8"); null if it has none.</summary>
static string? AnotherNumber(string gold)
{
    // Digits inside \text{…}, \mbox{…} (units) and subscripts are not the answer's number.
    var masked = Regex.Replace(gold, @"\\(?:text|mbox)\{[^}]*\}(?:\^\d)?|_\{?\d+\}?", m => new string('#', m.Length));
    var number = Regex.Match(masked, @"\d+");
    if (!number.Success) return null;
    int at = number.Index + number.Length - 1;
    int numberBase = Based(gold)?.Base ?? 10;
    int digit = gold[at] - '0';
    int changed = digit + 1 < numberBase ? digit + 1 : digit - 1;
    return gold[..at] + (char)('0' + changed) + gold[(at + 1)..];
}

static string[] OtherWords(string word)
{
    string[] days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    string[] months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    return word switch
    {
        "east" => ["west", "north"],
        "west" => ["east", "north"],
        "north" => ["south", "east"],
        "even" => ["odd", "neither"],
        "odd" => ["even", "neither"],
        "neither" => ["even", "odd"],
        "yes" => ["no"],
        "no" => ["yes"],
        "ellipse" => ["hyperbola", "parabola"],
        "parabola" => ["hyperbola", "ellipse"],
        "hyperbola" => ["parabola", "ellipse"],
        "circle" => ["ellipse", "parabola"],
        _ when Array.IndexOf(days, word) is >= 0 and var day => [days[(day + 1) % 7], days[(day + 6) % 7]],
        _ when Array.IndexOf(months, word) is >= 0 and var month => [months[(month + 1) % 12], months[(month + 11) % 12]],
        ['(', var letter, ')'] => [.. "ABCDE".Where(l => l != letter).Take(2).Select(l => $"({l})")],
        _ => [.. new[] { "Briana", "Carla", "Angela", "Luka" }.Where(w => w != word).Take(2)],
    };
}

/// <summary>A minus that starts an item after "(", "[", ",", "&amp;" or "\\" (not the leading one), or null.</summary>
static int? FirstUnaryMinusInside(string s)
{
    var m = Regex.Match(s, @"(?<=[(\[,&]\s*|\\\\\s*|\\begin\{pmatrix\}\s*|\\left\(\s*)-");
    return m.Success && m.Index > 0 ? m.Index : null;
}

/// <summary>The first minus between two terms ("2 - 5i", "2a - 3b"), or null.</summary>
static int? FirstBinaryMinus(string s)
{
    var m = Regex.Match(s, @"(?<=[A-Za-z0-9)}]\s*)-");
    if (!m.Success) return null;
    string before = s[..m.Index].TrimEnd();
    // "\begin{pmatrix} -1": that minus starts an entry.
    return before.EndsWith("matrix}") || before.EndsWith(@"\\") || before.EndsWith("^") ? null : m.Index;
}
