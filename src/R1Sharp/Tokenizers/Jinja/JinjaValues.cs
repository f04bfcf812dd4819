using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Tokenizers.Jinja;

// Template values are plain .NET objects with Python's meaning, because Jinja2 is Python:
//   null = None, bool, long = int, double = float, string = str, List<object?> = list, PyTuple = tuple,
//   PyDict = dict (insertion-ordered), PyIterator (what map/select/… return), Markup (what |safe and |escape return),
//   Undefined, Namespace, JinjaFunction (macros, methods, globals), LoopContext.

/// <summary>Jinja2's Undefined: renders as "", is false, iterates as empty; using it in arithmetic or looking into it fails with <see cref="Hint"/>.</summary>
public sealed class Undefined(string hint)
{
    public string Hint { get; } = hint;
}

/// <summary>
/// markupsafe's Markup, a str that is already HTML-safe: what the "safe" and "escape" filters return. Its one effect in
/// chat templates is that <c>markup + text</c> HTML-escapes the text (functionary's templates rely on it); otherwise it
/// behaves as its <see cref="Text"/> (see <see cref="Py.Plain"/>).
/// </summary>
public sealed record Markup(string Text)
{
    public static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
}

public sealed class PyTuple : List<object?>
{
    public PyTuple() { }
    public PyTuple(IEnumerable<object?> items) : base(items) { }
}

public sealed class PyDict() : OrderedDictionary<object, object?>(PyKeyComparer.Instance);

/// <summary>
/// A one-pass iterator, which jinja2's map, select, reject, selectattr, rejectattr and items filters (generators) and
/// reverse return: always true (even when empty), no length, nothing left once walked.
/// </summary>
public sealed class PyIterator(List<object?> items, string typeName = "generator")
{
    bool consumed;
    public string TypeName { get; } = typeName;

    public List<object?> Consume()
    {
        if (consumed) return [];
        consumed = true;
        return items;
    }
}

/// <summary>What <c>namespace(...)</c> makes: the one object a template may change from inside a loop.</summary>
public sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

public sealed class JinjaFunction(string name, Func<CallArgs, object?> invoke)
{
    public string Name { get; } = name;
    public object? Invoke(CallArgs args) => invoke(args);
}

/// <summary>Arguments of a call, filter or test, with Python's positional-or-keyword binding.</summary>
public sealed class CallArgs(List<object?> positional, List<(string Name, object? Value)> named, SourcePos pos, string what)
{
    public static readonly object Required = new();
    public List<object?> Positional { get; } = positional;
    public List<(string Name, object? Value)> Named { get; } = named;
    public SourcePos Pos { get; } = pos;

    public static CallArgs Empty(SourcePos pos, string what) => new([], [], pos, what);

    public JinjaException Error(string message) => new(Pos, $"{what}: {message}");

    /// <summary>The argument at <paramref name="position"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int position, string name, object? fallback)
    {
        if (position < Positional.Count) return Positional[position];
        foreach ((string n, object? v) in Named)
            if (n == name) return v;
        if (ReferenceEquals(fallback, Required)) throw Error($"missing argument '{name}'");
        return fallback;
    }

    /// <summary>Fails on arguments beyond the signature <paramref name="names"/>.</summary>
    public CallArgs Expect(params string[] names)
    {
        if (Positional.Count > names.Length) throw Error($"takes at most {names.Length} argument{(names.Length == 1 ? "" : "s")}, got {Positional.Count}");
        foreach ((string n, _) in Named)
            if (!names.Contains(n)) throw Error($"unexpected argument '{n}'");
        return this;
    }
}

/// <summary>Python's equality and hashing for dict keys (1 == 1.0 == True).</summary>
public sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();
    public new bool Equals(object? a, object? b) => Py.Eq(a, b);
    public int GetHashCode(object o) => Py.Hash(o);
}

/// <summary>Python semantics for template values: truth, str(), repr(), ==, ordering, iteration, json.dumps.</summary>
public static class Py
{
    /// <summary>A Markup as the str it is; any other value as it is.</summary>
    public static object? Plain(object? v) => v is Markup m ? m.Text : v;

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        Markup m => m.Text.Length > 0,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        PyDict dict => dict.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        PyTuple => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        Namespace => "Namespace",
        JinjaFunction => "function",
        LoopContext => "LoopContext",
        PyIterator it => it.TypeName,
        Markup => "Markup",
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;
    public static bool IsInteger(object? v) => v is long or bool;
    public static long AsLong(object? v) => v is bool b ? (b ? 1 : 0) : (long)v!;
    public static double AsDouble(object? v) => v switch { bool b => b ? 1 : 0, long l => l, _ => (double)v! };

    /// <summary>Python's str(): what "{{ x }}" prints (Undefined prints nothing).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Markup m => m.Text,
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 100) throw new InvalidOperationException("value nests too deeply to print");
        switch (v)
        {
            case null: sb.Append("None"); break;
            case Undefined: break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case Markup m:
                sb.Append("Markup(");
                AppendStringRepr(sb, m.Text);
                sb.Append(')');
                break;
            case PyTuple t:
                sb.Append('(');
                for (int i = 0; i < t.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, t[i], depth + 1);
                }
                sb.Append(t.Count == 1 ? ",)" : ")");
                break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case PyDict dict:
                sb.Append('{');
                bool first = true;
                foreach (var (key, value) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, key, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, value, depth + 1);
                }
                sb.Append('}');
                break;
            case Namespace ns:
                sb.Append("<Namespace {");
                sb.AppendJoin(", ", ns.Attributes.Select(kv => $"'{kv.Key}': {Repr(kv.Value)}"));
                sb.Append("}>");
                break;
            case JinjaFunction f: sb.Append("<function ").Append(f.Name).Append('>'); break;
            case LoopContext loop: sb.Append("<LoopContext ").Append(loop.Index0 + 1).Append('/').Append(loop.Length).Append('>'); break;
            case PyIterator it: sb.Append('<').Append(it.TypeName).Append(" object>"); break;
            default: sb.Append(v); break;
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ", escapes for the unprintable.</summary>
    static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (Rune r in s.EnumerateRunes())
        {
            int c = r.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(r)) sb.Append(r.ToString());
            else if (c < 0x100) sb.Append("\\x").Append(c.ToString("x2"));
            else if (c < 0x10000) sb.Append("\\u").Append(c.ToString("x4"));
            else sb.Append("\\U").Append(c.ToString("x8"));
        }
        sb.Append(quote);
    }

    static bool IsPrintable(Rune r) => r.Value == ' ' || Rune.GetUnicodeCategory(r) is not (UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
        or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);

    /// <summary>Python's repr(float): the shortest text that reads back to the same double, "1.0" not "1", "1e+16" past 16 digits.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        int exponent = e < 0 ? 0 : int.Parse(r.AsSpan(e + 1), CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? r : r[..e];
        int dot = mantissa.IndexOf('.');
        string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        int pointAt = (dot < 0 ? mantissa.Length : dot) + exponent; // value = 0.digits × 10^pointAt, before trimming zeros
        int leading = 0;
        while (leading < digits.Length - 1 && digits[leading] == '0') leading++;
        digits = digits[leading..].TrimEnd('0');
        pointAt -= leading;
        if (digits.Length == 0) digits = "0";
        string sign = d < 0 ? "-" : "";
        if (pointAt <= -4 || pointAt > 16)
        {
            int exp = pointAt - 1;
            string frac = digits.Length > 1 ? "." + digits[1..] : "";
            return $"{sign}{digits[0]}{frac}e{(exp < 0 ? '-' : '+')}{Math.Abs(exp):00}";
        }
        if (pointAt <= 0) return $"{sign}0.{new string('0', -pointAt)}{digits}";
        if (pointAt >= digits.Length) return $"{sign}{digits}{new string('0', pointAt - digits.Length)}.0";
        return $"{sign}{digits[..pointAt]}.{digits[pointAt..]}";
    }

    public static bool Eq(object? a, object? b)
    {
        a = Plain(a);
        b = Plain(b);
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? AsLong(a) == AsLong(b) : AsDouble(a) == AsDouble(b);
        switch (a)
        {
            case string s: return b is string t && s == t;
            case Undefined: return b is Undefined;
            case PyTuple tuple: return b is PyTuple otherTuple && SequenceEq(tuple, otherTuple);
            case List<object?> list: return b is List<object?> otherList and not PyTuple && SequenceEq(list, otherList);
            case PyDict dict:
                if (b is not PyDict otherDict || dict.Count != otherDict.Count) return false;
                foreach (var (key, value) in dict)
                    if (!otherDict.TryGetValue(key, out object? other) || !Eq(value, other)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    static bool SequenceEq(List<object?> x, List<object?> y)
    {
        if (x.Count != y.Count) return false;
        for (int i = 0; i < x.Count; i++)
            if (!Eq(x[i], y[i])) return false;
        return true;
    }

    public static int Hash(object? v) => Plain(v) switch
    {
        null => 0,
        string s => StringComparer.Ordinal.GetHashCode(s),
        bool b => (b ? 1L : 0L).GetHashCode(),
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        PyTuple t => t.Aggregate(17, (h, item) => h * 31 + Hash(item)),
        var other => throw new InvalidOperationException($"unhashable type: '{TypeName(other)}'"),
    };

    /// <summary>Python's ordering for &lt; &gt; and sorting; null when the types cannot be ordered.</summary>
    public static int? Compare(object? a, object? b)
    {
        a = Plain(a);
        b = Plain(b);
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? AsLong(a).CompareTo(AsLong(b)) : AsDouble(a).CompareTo(AsDouble(b));
        if (a is string s && b is string t) return CompareCodePoints(s, t);
        if (a is List<object?> x && b is List<object?> y && (a is PyTuple) == (b is PyTuple))
        {
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
            {
                if (Eq(x[i], y[i])) continue;
                return Compare(x[i], y[i]);
            }
            return x.Count.CompareTo(y.Count);
        }
        return null;
    }

    /// <summary>Python compares str by code point; UTF-16 ordinal order differs only above U+FFFF vs U+E000–U+FFFF.</summary>
    static int CompareCodePoints(string a, string b)
    {
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i]) i++;
        if (i == a.Length || i == b.Length) return a.Length.CompareTo(b.Length);
        return Rune.GetRuneAt(a, char.IsLowSurrogate(a[i]) ? i - 1 : i).Value.CompareTo(Rune.GetRuneAt(b, char.IsLowSurrogate(b[i]) ? i - 1 : i).Value);
    }

    public static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>The characters of a str as Python counts them (code points).</summary>
    public static List<string> CodePoints(string s)
    {
        var chars = new List<string>(s.Length);
        if (!HasSurrogates(s))
        {
            foreach (char c in s) chars.Add(c.ToString());
            return chars;
        }
        foreach (Rune r in s.EnumerateRunes()) chars.Add(r.ToString());
        return chars;
    }

    public static int Length(string s) => HasSurrogates(s) ? s.EnumerateRunes().Count() : s.Length;

    // ---------------- JSON ----------------

    /// <summary>A JSON value as Python's json.loads gives it: "1" is an int, "1.0" a float, objects keep their key order.</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => FromJsonObject(o),
        JsonArray a => a.Select(FromJson).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            JsonValueKind.Number => Number(v.ToJsonString()),
            var kind => throw new InvalidOperationException($"unexpected JSON value kind {kind}"),
        },
        _ => throw new InvalidOperationException($"unexpected JSON node {node.GetType().Name}"),
    };

    static PyDict FromJsonObject(JsonObject o)
    {
        var dict = new PyDict();
        foreach (var (key, value) in o) dict[key] = FromJson(value);
        return dict;
    }

    static object Number(string text)
    {
        if (text.AsSpan().IndexOfAny(".eE") < 0 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
        return double.Parse(text, CultureInfo.InvariantCulture);
    }

    public sealed record JsonOptions(bool EnsureAscii = false, string? Indent = null, string? ItemSeparator = null, string? KeySeparator = null, bool SortKeys = false);

    /// <summary>Python's json.dumps, which transformers' "tojson" filter calls (ensure_ascii=False by default, no HTML escaping).</summary>
    public static string ToJson(object? v, JsonOptions options)
    {
        var sb = new StringBuilder();
        string itemSeparator = options.ItemSeparator ?? (options.Indent is null ? ", " : ",");
        string keySeparator = options.KeySeparator ?? ": ";
        AppendJson(sb, v, options, itemSeparator, keySeparator, 0);
        return sb.ToString();
    }

    static void AppendJson(StringBuilder sb, object? v, JsonOptions options, string itemSeparator, string keySeparator, int level)
    {
        if (level > 100) throw new InvalidOperationException("value nests too deeply for tojson");
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d: sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FloatRepr(d)); return;
            case string s: AppendJsonString(sb, s, options.EnsureAscii); return;
            case Markup m: AppendJsonString(sb, m.Text, options.EnsureAscii); return;
            case List<object?> list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    return;
                }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSeparator);
                    NewLine(sb, options, level + 1);
                    AppendJson(sb, list[i], options, itemSeparator, keySeparator, level + 1);
                }
                NewLine(sb, options, level);
                sb.Append(']');
                return;
            case PyDict dict:
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    return;
                }
                IEnumerable<KeyValuePair<object, object?>> entries = dict;
                if (options.SortKeys) entries = entries.OrderBy(kv => kv.Key, Comparer<object>.Create((a, b) =>
                    Compare(a, b) ?? throw new InvalidOperationException($"tojson(sort_keys=true) cannot order keys of types '{TypeName(a)}' and '{TypeName(b)}'")));
                bool first = true;
                sb.Append('{');
                foreach (var (key, value) in entries)
                {
                    if (!first) sb.Append(itemSeparator);
                    first = false;
                    NewLine(sb, options, level + 1);
                    AppendJsonString(sb, JsonKey(key), options.EnsureAscii);
                    sb.Append(keySeparator);
                    AppendJson(sb, value, options, itemSeparator, keySeparator, level + 1);
                }
                NewLine(sb, options, level);
                sb.Append('}');
                return;
            default: throw new InvalidOperationException($"Object of type {TypeName(v)} is not JSON serializable");
        }
    }

    static string JsonKey(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => throw new InvalidOperationException($"keys must be str, int, float or bool, not {TypeName(key)}"),
    };

    static void NewLine(StringBuilder sb, JsonOptions options, int level)
    {
        if (options.Indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(options.Indent);
    }

    static void AppendJsonString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    // ensure_ascii escapes all but printable ASCII (UTF-16 units, so astral characters become surrogate pairs, as in Python).
                    if (c < 0x20 || (ensureAscii && c > 0x7E)) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Python's divmod rules: the remainder has the divisor's sign.</summary>
    public static long FloorDiv(long a, long b)
    {
        long q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
        return q;
    }

    public static long Mod(long a, long b)
    {
        long r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }

    public static double Mod(double a, double b)
    {
        double r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }

    public static object? IntPow(long a, long b)
    {
        if (b < 0) return Math.Pow(a, b);
        if (a is 0 or 1) return b == 0 ? 1L : a;
        if (a == -1) return b % 2 == 0 ? 1L : -1L;
        BigInteger result = b > 64 ? BigInteger.Pow(2, 64) : BigInteger.Pow(a, (int)b);
        if (result > long.MaxValue || result < long.MinValue) throw new InvalidOperationException("integer result too large");
        return (long)result;
    }
}
