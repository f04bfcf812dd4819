using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace R1Sharp.Tokenizers.Jinja;

/// <summary>
/// Operators, attribute and item access, filters, tests, globals and the Python str/dict/list methods, each with
/// the meaning Jinja2 gives it when transformers renders a chat template (an ImmutableSandboxedEnvironment:
/// lists and dicts cannot be changed, only namespace() objects can).
/// </summary>
public static partial class JinjaBuiltins
{
    // ---------------- globals ----------------

    public static IEnumerable<(string, object?)> Globals(JinjaInterpreter runtime)
    {
        yield return ("range", new JinjaFunction("range", args => Range(runtime, args)));
        yield return ("namespace", new JinjaFunction("namespace", args =>
        {
            var ns = new Namespace();
            foreach (object? initial in args.Positional)
            {
                if (initial is not PyDict dict) throw args.Error("takes keyword arguments or a dict");
                foreach (var (key, value) in dict) ns.Attributes[Py.Str(key)] = value;
            }
            foreach (var (name, value) in args.Named) ns.Attributes[name] = value;
            return ns;
        }));
        yield return ("dict", new JinjaFunction("dict", args =>
        {
            var dict = new PyDict();
            foreach (object? initial in args.Positional)
            {
                if (initial is not PyDict other) throw args.Error("takes keyword arguments or a dict");
                foreach (var (key, value) in other) dict[key] = value;
            }
            foreach (var (name, value) in args.Named) dict[name] = value;
            return dict;
        }));
        yield return ("raise_exception", new JinjaFunction("raise_exception", args =>
            throw new JinjaException(args.Pos, $"the template raised an error: {Py.Str(args.Get(0, "message", ""))}")));
        yield return ("strftime_now", new JinjaFunction("strftime_now", args =>
            Strftime(runtime.Clock.GetLocalNow().DateTime, args.Expect("format").Get(0, "format", CallArgs.Required) as string
                ?? throw args.Error("the format must be a string"), args)));
    }

    static List<object?> Range(JinjaInterpreter runtime, CallArgs args)
    {
        args.Expect("start", "stop", "step");
        if (args.Positional.Count is 0 or > 3 || args.Positional.Any(a => !Py.IsInteger(a))) throw args.Error("takes 1 to 3 integers");
        long start = 0, stop, step = 1;
        if (args.Positional.Count == 1) stop = Py.AsLong(args.Positional[0]);
        else
        {
            start = Py.AsLong(args.Positional[0]);
            stop = Py.AsLong(args.Positional[1]);
            if (args.Positional.Count == 3) step = Py.AsLong(args.Positional[2]);
        }
        if (step == 0) throw args.Error("step must not be zero");
        long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        runtime.CheckCount(count, args.Pos);
        var items = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step) items.Add(v);
        return items;
    }

    /// <summary>Python's datetime.strftime in the C locale (English names), glibc's "-" flag drops zero padding.</summary>
    public static string Strftime(DateTime t, string format, CallArgs args)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            bool noPad = format[i + 1] == '-' && i + 2 < format.Length;
            char d = format[noPad ? i + 2 : i + 1];
            i += noPad ? 2 : 1;
            string Pad(int value, int width) => noPad ? value.ToString(CultureInfo.InvariantCulture) : value.ToString(new string('0', width), CultureInfo.InvariantCulture);
            sb.Append(d switch
            {
                'a' => t.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => t.ToString("dddd", CultureInfo.InvariantCulture),
                'w' => ((int)t.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'd' => Pad(t.Day, 2),
                'e' => t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'b' or 'h' => t.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => t.ToString("MMMM", CultureInfo.InvariantCulture),
                'm' => Pad(t.Month, 2),
                'y' => Pad(t.Year % 100, 2),
                'Y' => t.Year.ToString(CultureInfo.InvariantCulture),
                'H' => Pad(t.Hour, 2),
                'I' => Pad(t.Hour % 12 == 0 ? 12 : t.Hour % 12, 2),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'M' => Pad(t.Minute, 2),
                'S' => Pad(t.Second, 2),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
                'j' => Pad(t.DayOfYear, 3),
                'c' => t.ToString("ddd MMM ", CultureInfo.InvariantCulture) + t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2) + t.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture),
                'x' => t.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
                'X' => t.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                'z' or 'Z' => "",
                '%' => "%",
                _ => throw args.Error($"strftime directive '%{d}' is not supported"),
            });
        }
        return sb.ToString();
    }

    // ---------------- operators ----------------

    static JinjaException UndefinedUse(object? value, SourcePos pos) => new(pos, ((Undefined)value!).Hint);

    public static object? Unary(string op, object? v, SourcePos pos)
    {
        v = Py.Plain(v);
        if (v is Undefined) throw UndefinedUse(v, pos);
        if (!Py.IsNumber(v)) throw new JinjaException(pos, $"bad operand type for unary {op}: '{Py.TypeName(v)}'");
        if (op == "+") return v is bool ? Py.AsLong(v) : v;
        if (v is double d) return -d;
        return checked(-Py.AsLong(v));
    }

    public static object? Binary(JinjaInterpreter runtime, string op, object? a, object? b, SourcePos pos)
    {
        if (op == "~") return runtime.CheckLength(Py.Str(a) + Py.Str(b), pos);
        if (op == "+" && (a is Markup || b is Markup) && a is string or Markup && b is string or Markup)
        {
            // markupsafe: Markup + str escapes the str.
            string MarkupText(object? x) => x is Markup m ? m.Text : Markup.Escape((string)x!);
            return new Markup(runtime.CheckLength(MarkupText(a) + MarkupText(b), pos));
        }
        a = Py.Plain(a);
        b = Py.Plain(b);
        if (a is Undefined) throw UndefinedUse(a, pos);
        if (b is Undefined) throw UndefinedUse(b, pos);
        if (Py.IsNumber(a) && Py.IsNumber(b))
        {
            bool integers = Py.IsInteger(a) && Py.IsInteger(b);
            switch (op)
            {
                // Each arm is boxed on its own: a C# conditional would turn the long into a double.
                case "+": return integers ? (object)checked(Py.AsLong(a) + Py.AsLong(b)) : Py.AsDouble(a) + Py.AsDouble(b);
                case "-": return integers ? (object)checked(Py.AsLong(a) - Py.AsLong(b)) : Py.AsDouble(a) - Py.AsDouble(b);
                case "*": return integers ? (object)checked(Py.AsLong(a) * Py.AsLong(b)) : Py.AsDouble(a) * Py.AsDouble(b);
                case "**": return integers ? Py.IntPow(Py.AsLong(a), Py.AsLong(b)) : Math.Pow(Py.AsDouble(a), Py.AsDouble(b));
            }
            if (Py.AsDouble(b) == 0) throw new JinjaException(pos, op == "/" ? "division by zero" : "integer division or modulo by zero");
            return op switch
            {
                "/" => Py.AsDouble(a) / Py.AsDouble(b),
                "//" => integers ? (object)Py.FloorDiv(Py.AsLong(a), Py.AsLong(b)) : Math.Floor(Py.AsDouble(a) / Py.AsDouble(b)),
                "%" => integers ? (object)Py.Mod(Py.AsLong(a), Py.AsLong(b)) : Py.Mod(Py.AsDouble(a), Py.AsDouble(b)),
                _ => throw new JinjaException(pos, $"unknown operator '{op}'"),
            };
        }
        switch (op, a, b)
        {
            case ("+", string s, string t):
                runtime.CheckLength((long)s.Length + t.Length, pos);
                return s + t;
            case ("+", List<object?> x, List<object?> y) when (x is PyTuple) == (y is PyTuple):
                runtime.CheckCount((long)x.Count + y.Count, pos);
                return x is PyTuple ? new PyTuple(x.Concat(y)) : new List<object?>(x.Concat(y));
            case ("*", string s, _) when Py.IsInteger(b): return Repeat(runtime, s, Py.AsLong(b), pos);
            case ("*", _, string s) when Py.IsInteger(a): return Repeat(runtime, s, Py.AsLong(a), pos);
            case ("*", List<object?> x, _) when Py.IsInteger(b):
                long n = Math.Max(0, Py.AsLong(b));
                runtime.CheckCount(x.Count * n, pos);
                var repeated = new List<object?>();
                for (long i = 0; i < n; i++) repeated.AddRange(x);
                return x is PyTuple ? new PyTuple(repeated) : repeated;
            case ("%", string format, _): return runtime.CheckLength(PercentFormat(format, b is PyTuple values ? [.. values] : [b], pos), pos);
        }
        throw new JinjaException(pos, $"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
    }

    static string Repeat(JinjaInterpreter runtime, string s, long times, SourcePos pos)
    {
        if (times <= 0 || s.Length == 0) return "";
        runtime.CheckLength(s.Length * times, pos);
        return new StringBuilder(s.Length * (int)times).Insert(0, s, (int)times).ToString();
    }

    public static bool Compare(string op, object? a, object? b, SourcePos pos)
    {
        a = Py.Plain(a);
        b = Py.Plain(b);
        switch (op)
        {
            case "==": return Py.Eq(a, b);
            case "!=": return !Py.Eq(a, b);
            case "in": return Contains(b, a, pos);
            case "not in": return !Contains(b, a, pos);
        }
        int c = Py.Compare(a, b) ?? throw new JinjaException(pos, $"'{op}' not supported between instances of '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
        return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, ">=" => c >= 0, _ => throw new JinjaException(pos, $"unknown comparison '{op}'") };
    }

    static bool Contains(object? container, object? item, SourcePos pos) => ContainsPlain(Py.Plain(container), Py.Plain(item), pos);

    static bool ContainsPlain(object? container, object? item, SourcePos pos) => container switch
    {
        string s when item is string t => s.Contains(t, StringComparison.Ordinal),
        string => throw new JinjaException(pos, $"'in <string>' requires string as left operand, not {Py.TypeName(item)}"),
        List<object?> list => list.Any(x => Py.Eq(x, item)),
        PyIterator iterator => iterator.Consume().Any(x => Py.Eq(x, item)),
        PyDict dict => item is List<object?> and not PyTuple or PyDict ? throw new JinjaException(pos, $"unhashable type: '{Py.TypeName(item)}'") : dict.ContainsKey(item!),
        Undefined => false,
        _ => throw new JinjaException(pos, $"argument of type '{Py.TypeName(container)}' is not iterable"),
    };

    // ---------------- attributes and items ----------------

    public static object? GetAttribute(JinjaInterpreter runtime, object? obj, string name, SourcePos pos)
    {
        obj = Py.Plain(obj);
        switch (obj)
        {
            case Undefined: throw UndefinedUse(obj, pos);
            case PyDict dict:
                if (DictMethod(dict, name) is { } method) return method;
                return dict.TryGetValue(name, out object? value) ? value : new Undefined($"'dict object' has no attribute '{name}'");
            case string s: return (object?)StringMethod(runtime, s, name, pos) ?? new Undefined($"'str object' has no attribute '{name}'");
            case List<object?> list: return (object?)ListMethod(list, name) ?? new Undefined($"'{Py.TypeName(obj)} object' has no attribute '{name}'");
            case Namespace ns: return ns.Attributes.TryGetValue(name, out object? attr) ? attr : new Undefined($"'Namespace' object has no attribute '{name}'");
            case LoopContext loop: return loop.Attribute(name);
            default: return new Undefined($"'{Py.TypeName(obj)}' object has no attribute '{name}'");
        }
    }

    public static object? GetItem(JinjaInterpreter runtime, object? obj, object? key, SourcePos pos)
    {
        obj = Py.Plain(obj);
        key = Py.Plain(key);
        switch (obj)
        {
            case Undefined: throw UndefinedUse(obj, pos);
            case List<object?> list when Py.IsInteger(key):
                long i = Py.AsLong(key);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined($"'{Py.TypeName(obj)} object' has no element {Py.AsLong(key)}");
            case string s when Py.IsInteger(key):
                List<string> chars = Py.CodePoints(s);
                long j = Py.AsLong(key);
                if (j < 0) j += chars.Count;
                return j >= 0 && j < chars.Count ? chars[(int)j] : new Undefined($"'str object' has no element {Py.AsLong(key)}");
            case PyDict dict:
                if (key is not (List<object?> and not PyTuple or PyDict or null) && dict.TryGetValue(key, out object? value)) return value;
                break;
        }
        // Jinja2 tries the attribute when the item is missing: d['items'] is the method if there is no 'items' key.
        if (key is string name && obj is not null) return GetAttribute(runtime, obj, name, pos);
        return new Undefined($"'{Py.TypeName(obj)} object' has no element {Py.Repr(key)}");
    }

    public static object? Slice(object? obj, object? start, object? stop, object? step, SourcePos pos)
    {
        obj = Py.Plain(obj);
        if (obj is Undefined) throw UndefinedUse(obj, pos);
        foreach (object? bound in (object?[])[start, stop, step])
            if (bound is not null && !Py.IsInteger(bound)) throw new JinjaException(pos, "slice indices must be integers or none");
        List<object?> items = obj switch
        {
            List<object?> list => list,
            string s => [.. Py.CodePoints(s)],
            _ => throw new JinjaException(pos, $"'{Py.TypeName(obj)}' object is not subscriptable"),
        };
        long n = items.Count, stepValue = step is null ? 1 : Py.AsLong(step);
        if (stepValue == 0) throw new JinjaException(pos, "slice step cannot be zero");
        long lower = stepValue > 0 ? 0 : -1, upper = stepValue > 0 ? n : n - 1;
        long Clamp(object? bound, long missing)
        {
            if (bound is null) return missing;
            long v = Py.AsLong(bound);
            if (v < 0) v += n;
            return Math.Clamp(v, lower, upper);
        }
        long first = Clamp(start, stepValue > 0 ? lower : upper), end = Clamp(stop, stepValue > 0 ? upper : lower);
        var result = new List<object?>();
        for (long i = first; stepValue > 0 ? i < end : i > end; i += stepValue) result.Add(items[(int)i]);
        return obj switch
        {
            string => string.Concat(result.Cast<string>()),
            PyTuple => new PyTuple(result),
            _ => result,
        };
    }

    // ---------------- tests ----------------

    public static bool Test(JinjaInterpreter runtime, string name, object? v, CallArgs args, SourcePos pos)
    {
        if (name == "escaped") return v is Markup;
        v = Py.Plain(v);
        object? Arg() => args.Expect("value").Get(0, "value", CallArgs.Required);
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "boolean": return v is bool;
            case "true": return v is true;
            case "false": return v is false;
            case "integer": return v is long;
            case "float": return v is double;
            case "number": return Py.IsNumber(v);
            case "string": return v is string;
            case "mapping": return v is PyDict;
            case "iterable": return v is string or List<object?> or PyDict or Undefined or PyIterator;
            case "sequence": return v is string or List<object?> or PyDict;
            case "callable": return v is JinjaFunction;
            case "sameas":
                // Python's "is": None, True and False are singletons; other values are the same only as the same object.
                object? other = Arg();
                return v is null or bool ? Equals(v, other) : ReferenceEquals(v, other);
            case "in": return Contains(Arg(), v, pos);
            case "eq" or "equalto" or "==": return Py.Eq(v, Arg());
            case "ne" or "!=": return !Py.Eq(v, Arg());
            case "lt" or "lessthan" or "<": return Compare("<", v, Arg(), pos);
            case "le" or "<=": return Compare("<=", v, Arg(), pos);
            case "gt" or "greaterthan" or ">": return Compare(">", v, Arg(), pos);
            case "ge" or ">=": return Compare(">=", v, Arg(), pos);
            case "divisibleby":
                object? divisor = args.Expect("num").Get(0, "num", CallArgs.Required);
                if (!Py.IsInteger(v) || !Py.IsInteger(divisor) || Py.AsLong(divisor) == 0) throw args.Error("needs integers and a non-zero divisor");
                return Py.AsLong(v) % Py.AsLong(divisor) == 0;
            case "even" or "odd":
                if (!Py.IsInteger(v)) throw args.Error($"needs an integer, got '{Py.TypeName(v)}'");
                return (Py.AsLong(v) % 2 == 0) == (name == "even");
            case "lower": return v is string l && l.Any(char.IsLetter) && l == l.ToLowerInvariant();
            case "upper": return v is string u && u.Any(char.IsLetter) && u == u.ToUpperInvariant();
            case "filter": return Arg() is string f && FilterNames.Contains(f);
            case "test": return Arg() is string t && TestNames.Contains(t);
            default: throw new JinjaException(pos, $"unknown test '{name}'");
        }
    }

    static readonly HashSet<string> TestNames = ["defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
        "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "in", "eq", "equalto", "ne", "lt", "lessthan", "le", "gt",
        "greaterthan", "ge", "divisibleby", "even", "odd", "lower", "upper", "filter", "test", "==", "!=", "<", "<=", ">", ">="];

    // ---------------- filters ----------------

    static readonly HashSet<string> FilterNames = ["abs", "attr", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim",
        "unique", "upper", "wordcount"];

    public static object? Filter(JinjaInterpreter runtime, string name, object? v, CallArgs args, SourcePos pos)
    {
        if (!FilterNames.Contains(name)) throw new JinjaException(pos, $"unknown filter '{name}'");
        // Most filters take Undefined as Jinja2 does (as "", an empty sequence, or the default); these fail on it.
        if (v is Undefined && name is "abs" or "round" or "dictsort" or "attr" or "int" or "float" or "indent") throw UndefinedUse(v, pos);
        if (name is "safe" or "string" or "e" or "escape") return MarkupFilter(name, v, args);
        v = Py.Plain(v);
        switch (name)
        {
            case "abs":
                args.Expect();
                return v switch { bool or long => (object)checked(Math.Abs(Py.AsLong(v))), double d => Math.Abs(d), _ => throw args.Error($"bad operand type '{Py.TypeName(v)}'") };
            case "attr":
                // Python attributes only (methods, namespace and loop attributes), never a dict's keys.
                string attrName = Py.Str(args.Expect("name").Get(0, "name", CallArgs.Required));
                var noAttribute = new Undefined($"'{Py.TypeName(v)}' object has no attribute '{attrName}'");
                if (v is PyDict attrDict) return (object?)DictMethod(attrDict, attrName) ?? noAttribute;
                return v is string or List<object?> or Namespace or LoopContext ? GetAttribute(runtime, v, attrName, pos) : noAttribute;
            case "capitalize": args.Expect(); return Capitalize(Py.Str(v));
            case "center":
                int width = (int)Py.AsLong(args.Expect("width").Get(0, "width", 80L));
                string text = Py.Str(v);
                runtime.CheckLength(width, pos);
                int total = Math.Max(0, width - Py.Length(text)), left = total / 2 + (total & width & 1);
                return new string(' ', left) + text + new string(' ', total - left);
            case "count" or "length":
                args.Expect();
                return v switch
                {
                    string s => (long)Py.Length(s),
                    List<object?> list => (long)list.Count,
                    PyDict dict => (long)dict.Count,
                    Undefined => 0L,
                    _ => throw args.Error($"object of type '{Py.TypeName(v)}' has no len()"),
                };
            case "d" or "default":
                args.Expect("default_value", "boolean");
                object? fallback = args.Get(0, "default_value", "");
                bool boolean = Py.Truthy(args.Get(1, "boolean", false));
                return v is Undefined || (boolean && !Py.Truthy(v)) ? fallback : v;
            case "dictsort":
                args.Expect("case_sensitive", "by", "reverse");
                if (v is not PyDict toSort) throw args.Error("needs a dict");
                bool byValue = Py.Str(args.Get(1, "by", "key")) == "value";
                bool caseSensitive = Py.Truthy(args.Get(0, "case_sensitive", false));
                var pairs = toSort.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList();
                return SortBy(pairs, p => SortKey(((PyTuple)p!)[byValue ? 1 : 0], caseSensitive), Py.Truthy(args.Get(2, "reverse", false)), pos);
            case "first":
                args.Expect();
                List<object?> firstItems = runtime.Items(v, pos);
                return firstItems.Count > 0 ? firstItems[0] : new Undefined("no first item, sequence was empty");
            case "last":
                args.Expect();
                if (v is PyIterator) throw args.Error($"'{Py.TypeName(v)}' object is not reversible");
                List<object?> lastItems = runtime.Items(v, pos);
                return lastItems.Count > 0 ? lastItems[^1] : new Undefined("no last item, sequence was empty");
            case "float":
                object? floatDefault = args.Expect("default").Get(0, "default", 0.0);
                return v switch
                {
                    double d => d,
                    bool or long => Py.AsDouble(v),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
                    _ => floatDefault,
                };
            case "format": return runtime.CheckLength(PercentFormat(Py.Str(v), args.Positional, pos), pos);
            case "indent": return Indent(runtime, Py.Str(v), args, pos);
            case "int":
                args.Expect("default", "base");
                object? intDefault = args.Get(0, "default", 0L);
                int numberBase = (int)Py.AsLong(args.Get(1, "base", 10L));
                return v switch
                {
                    bool or long => Py.AsLong(v),
                    double d when !double.IsNaN(d) && !double.IsInfinity(d) => (long)Math.Truncate(d),
                    string s => ParseInt(s, numberBase) ?? (double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f)
                        && !double.IsNaN(f) && !double.IsInfinity(f) ? (long)Math.Truncate(f) : intDefault),
                    _ => intDefault,
                };
            case "items":
                args.Expect();
                return v switch
                {
                    Undefined => new PyIterator([]),
                    PyDict dict => new PyIterator(dict.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList()),
                    _ => throw args.Error($"can only get item pairs from a mapping, not '{Py.TypeName(v)}'"),
                };
            case "join":
                args.Expect("d", "attribute");
                string separator = Py.Str(args.Get(0, "d", ""));
                object? joinAttribute = args.Get(1, "attribute", null);
                var joined = new StringBuilder();
                foreach (object? item in runtime.Items(v, pos))
                {
                    string piece = Py.Str(joinAttribute is null ? item : AttributePath(runtime, item, joinAttribute, pos));
                    runtime.CheckLength((long)joined.Length + separator.Length + piece.Length, pos);
                    joined.Append(piece).Append(separator);
                }
                if (joined.Length > 0) joined.Length -= separator.Length;
                return joined.ToString();
            case "list": args.Expect(); return runtime.Items(v, pos);
            case "lower": args.Expect(); return Py.Str(v).ToLowerInvariant();
            case "upper": args.Expect(); return Py.Str(v).ToUpperInvariant();
            case "map": return Map(runtime, v, args, pos);
            case "max" or "min":
                args.Expect("case_sensitive", "attribute");
                List<object?> candidates = runtime.Items(v, pos);
                if (candidates.Count == 0) return new Undefined($"no {name} item, sequence was empty");
                bool maxCase = Py.Truthy(args.Get(0, "case_sensitive", false));
                object? maxAttribute = args.Get(1, "attribute", null);
                List<object?> ordered = SortBy(candidates, x => SortKey(maxAttribute is null ? x : AttributePath(runtime, x, maxAttribute, pos), maxCase), false, pos);
                return name == "min" ? ordered[0] : ordered[^1];
            case "select" or "reject": return Select(runtime, v, args, name == "select", byAttribute: false, pos);
            case "selectattr" or "rejectattr": return Select(runtime, v, args, name == "selectattr", byAttribute: true, pos);
            case "replace":
                args.Expect("old", "new", "count");
                string source = Py.Str(v), old = Py.Str(args.Get(0, "old", CallArgs.Required)), replacement = Py.Str(args.Get(1, "new", CallArgs.Required));
                object? countArg = args.Get(2, "count", null);
                return ReplaceText(runtime, source, old, replacement, countArg is null ? -1 : Py.AsLong(countArg), pos);
            case "reverse":
                // Python's reversed(): an iterator over a list or dict; a generator has to be listed first.
                args.Expect();
                if (v is string rs) return string.Concat(Enumerable.Reverse(Py.CodePoints(rs)));
                List<object?> reversed = runtime.Items(v, pos);
                reversed.Reverse();
                return v is PyIterator ? reversed : new PyIterator(reversed, v is PyDict ? "dict_reversekeyiterator" : "list_reverseiterator");
            case "round":
                args.Expect("precision", "method");
                int precision = (int)Py.AsLong(args.Get(0, "precision", 0L));
                string method = Py.Str(args.Get(1, "method", "common"));
                double x = Py.AsDouble(Py.IsNumber(v) ? v : throw args.Error($"needs a number, got '{Py.TypeName(v)}'"));
                double scale = Math.Pow(10, precision);
                return method switch
                {
                    "common" => precision is >= 0 and <= 15 ? Math.Round(x, precision, MidpointRounding.ToEven) : Math.Round(x * scale) / scale, // Python's round()
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    "floor" => Math.Floor(x * scale) / scale,
                    _ => throw args.Error("method must be 'common', 'ceil' or 'floor'"),
                };
            case "sort":
                args.Expect("reverse", "case_sensitive", "attribute");
                bool sortCase = Py.Truthy(args.Get(1, "case_sensitive", false));
                object? sortAttribute = args.Get(2, "attribute", null);
                return SortBy(runtime.Items(v, pos), x => SortKey(sortAttribute is null ? x : AttributePath(runtime, x, sortAttribute, pos), sortCase),
                    Py.Truthy(args.Get(0, "reverse", false)), pos);
            case "sum":
                args.Expect("attribute", "start");
                object? sumAttribute = args.Get(0, "attribute", null);
                object? sum = args.Get(1, "start", 0L);
                foreach (object? item in runtime.Items(v, pos))
                    sum = Binary(runtime, "+", sum, sumAttribute is null ? item : AttributePath(runtime, item, sumAttribute, pos), pos);
                return sum;
            case "title":
                args.Expect();
                return string.Concat(TitleSplit().Split(Py.Str(v)).Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));
            case "tojson": return runtime.CheckLength(ToJson(v, args), pos);
            case "trim":
                object? chars = args.Expect("chars").Get(0, "chars", null);
                return Strip(Py.Str(v), chars, left: true, right: true);
            case "unique":
                args.Expect("case_sensitive", "attribute");
                bool uniqueCase = Py.Truthy(args.Get(0, "case_sensitive", false));
                object? uniqueAttribute = args.Get(1, "attribute", null);
                var seen = new List<object?>();
                var unique = new List<object?>();
                foreach (object? item in runtime.Items(v, pos))
                {
                    object? key = SortKey(uniqueAttribute is null ? item : AttributePath(runtime, item, uniqueAttribute, pos), uniqueCase);
                    if (seen.Any(s => Py.Eq(s, key))) continue;
                    seen.Add(key);
                    unique.Add(item);
                }
                return unique;
            case "wordcount": args.Expect(); return (long)Split(Py.Str(v), null, -1).Count;
        }
        throw new JinjaException(pos, $"unknown filter '{name}'");
    }

    /// <summary>safe marks text HTML-safe, escape escapes it (once), string keeps a Markup a Markup, as markupsafe does.</summary>
    static object? MarkupFilter(string name, object? v, CallArgs args)
    {
        args.Expect();
        return name switch
        {
            "safe" => v as Markup ?? new Markup(Py.Str(v)),
            "string" => v as Markup ?? (object)Py.Str(v),
            _ => v as Markup ?? new Markup(Markup.Escape(Py.Str(v))),
        };
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex TitleSplit();

    static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool reverse, SourcePos pos)
    {
        var keyed = items.Select((item, i) => (Item: item, Key: key(item), Index: i)).ToList();
        keyed.Sort((a, b) =>
        {
            int c = Py.Compare(a.Key, b.Key) ?? throw new JinjaException(pos, $"'<' not supported between instances of '{Py.TypeName(a.Key)}' and '{Py.TypeName(b.Key)}'");
            if (reverse) c = -c;
            return c != 0 ? c : a.Index.CompareTo(b.Index); // stable, like Python's sort
        });
        return keyed.Select(k => k.Item).ToList();
    }

    /// <summary>Jinja2's attribute paths for map/sort/selectattr: "a.b.0" looks up a, then b, then item 0.</summary>
    static object? AttributePath(JinjaInterpreter runtime, object? item, object? path, SourcePos pos)
    {
        if (Py.IsInteger(path)) return GetItem(runtime, item, path, pos);
        foreach (string part in Py.Str(path).Split('.'))
        {
            object? key = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long index) ? index : part;
            item = GetItem(runtime, item, key, pos);
            if (item is Undefined) break;
        }
        return item;
    }

    /// <summary>jinja2's map: a generator, empty when the input is false (none, undefined, empty).</summary>
    static PyIterator Map(JinjaInterpreter runtime, object? v, CallArgs args, SourcePos pos)
    {
        List<object?> items = Py.Truthy(v) ? runtime.Items(v, pos) : [];
        if (args.Positional.Count == 0)
        {
            object? attribute = args.Get(0, "attribute", CallArgs.Required);
            object? fallback = args.Get(1, "default", null);
            bool hasDefault = args.Named.Any(n => n.Name == "default");
            return new PyIterator(items.Select(item => AttributePath(runtime, item, attribute, pos) is var value && value is Undefined && hasDefault ? fallback : value).ToList());
        }
        string filter = Py.Str(args.Positional[0]);
        var rest = new CallArgs(args.Positional.Skip(1).ToList(), args.Named, pos, $"filter '{filter}'");
        return new PyIterator(items.Select(item => Filter(runtime, filter, item, rest, pos)).ToList());
    }

    /// <summary>jinja2's select, reject, selectattr and rejectattr: a generator, empty when the input is false.</summary>
    static PyIterator Select(JinjaInterpreter runtime, object? v, CallArgs args, bool keep, bool byAttribute, SourcePos pos)
    {
        List<object?> items = Py.Truthy(v) ? runtime.Items(v, pos) : [];
        int offset = byAttribute ? 1 : 0;
        object? attribute = byAttribute ? args.Get(0, "attribute", CallArgs.Required) : null;
        string? test = args.Positional.Count > offset ? Py.Str(args.Positional[offset]) : null;
        var testArgs = new CallArgs(args.Positional.Skip(offset + 1).ToList(), [], pos, $"test '{test}'");
        return new PyIterator(items.Where(item =>
        {
            object? value = byAttribute ? AttributePath(runtime, item, attribute, pos) : item;
            return (test is null ? Py.Truthy(value) : Test(runtime, test, value, testArgs, pos)) == keep;
        }).ToList());
    }

    static string Indent(JinjaInterpreter runtime, string s, CallArgs args, SourcePos pos)
    {
        args.Expect("width", "first", "blank");
        object? widthArg = args.Get(0, "width", 4L);
        string indent = widthArg is string w ? w : new string(' ', (int)Math.Clamp(Py.AsLong(widthArg), 0, 1000));
        bool first = Py.Truthy(args.Get(1, "first", false)), blank = Py.Truthy(args.Get(2, "blank", false));
        string[] lines = s.Split('\n');
        runtime.CheckLength(s.Length + (long)lines.Length * indent.Length, pos);
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0) sb.Append('\n');
            bool indentThis = i == 0 ? first : blank || lines[i].Any(c => !JinjaLexer.IsSpace(c));
            if (indentThis) sb.Append(indent);
            sb.Append(lines[i]);
        }
        return sb.ToString();
    }

    static long? ParseInt(string s, int numberBase)
    {
        string t = s.Trim().Replace("_", "");
        bool negative = t.StartsWith('-');
        if (t.StartsWith('-') || t.StartsWith('+')) t = t[1..];
        if (numberBase == 16 && t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) t = t[2..];
        if (t.Length == 0) return null;
        try
        {
            long value = Convert.ToInt64(t, numberBase is 2 or 8 or 10 or 16 ? numberBase : throw new FormatException("int base must be 2, 8, 10 or 16"));
            return negative ? -value : value;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return null;
        }
    }

    static string ToJson(object? v, CallArgs args)
    {
        args.Expect("ensure_ascii", "indent", "separators", "sort_keys");
        object? indentArg = args.Get(1, "indent", null);
        string? indent = indentArg switch
        {
            null => null,
            string s => s,
            _ when Py.IsInteger(indentArg) => new string(' ', (int)Math.Clamp(Py.AsLong(indentArg), 0, 1000)),
            _ => throw args.Error("indent must be an integer, a string or none"),
        };
        string? item = null, key = null;
        if (args.Get(2, "separators", null) is List<object?> { Count: 2 } separators)
        {
            item = Py.Str(separators[0]);
            key = Py.Str(separators[1]);
        }
        try
        {
            return Py.ToJson(v, new Py.JsonOptions(Py.Truthy(args.Get(0, "ensure_ascii", false)), indent, item, key, Py.Truthy(args.Get(3, "sort_keys", false))));
        }
        catch (InvalidOperationException e)
        {
            throw args.Error(e.Message);
        }
    }

    /// <summary>Python's printf-style "%" formatting: %s, %r, %d, %i, %f with the flags "-", "0", "+", " ", a width and a precision.</summary>
    static string PercentFormat(string format, List<object?> values, SourcePos pos)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                sb.Append(format[i]);
                continue;
            }
            int j = i + 1;
            while (j < format.Length && format[j] is '-' or '0' or '+' or ' ' or '#') j++;
            string flags = format[(i + 1)..j];
            int widthStart = j;
            while (j < format.Length && char.IsAsciiDigit(format[j])) j++;
            int width = j > widthStart ? Math.Min(int.Parse(format.AsSpan(widthStart, j - widthStart), CultureInfo.InvariantCulture), 10_000) : 0;
            int? precision = null;
            if (j < format.Length && format[j] == '.')
            {
                int precisionStart = ++j;
                while (j < format.Length && char.IsAsciiDigit(format[j])) j++;
                precision = j > precisionStart ? Math.Min(int.Parse(format.AsSpan(precisionStart, j - precisionStart), CultureInfo.InvariantCulture), 100) : 0;
            }
            if (j >= format.Length) throw new JinjaException(pos, "incomplete format");
            char conversion = format[j];
            i = j;
            if (conversion == '%')
            {
                sb.Append('%');
                continue;
            }
            if (next >= values.Count) throw new JinjaException(pos, "not enough arguments for format string");
            object? value = values[next++];
            bool numeric = conversion is 'd' or 'i' or 'f';
            if (numeric && !Py.IsNumber(value)) throw new JinjaException(pos, $"%{conversion} format: a real number is required, not {Py.TypeName(value)}");
            string text = conversion switch
            {
                's' => Py.Str(value),
                'r' => Py.Repr(value),
                'd' or 'i' => ((long)Math.Truncate(Py.AsDouble(value))).ToString(CultureInfo.InvariantCulture),
                'f' => Py.AsDouble(value).ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture),
                _ => throw new JinjaException(pos, $"format '%{conversion}' is not supported"),
            };
            if (conversion is 's' or 'r' && precision is int keep && text.Length > keep) text = text[..keep];
            if (numeric && !text.StartsWith('-') && (flags.Contains('+') || flags.Contains(' '))) text = (flags.Contains('+') ? "+" : " ") + text;
            if (text.Length < width)
            {
                if (flags.Contains('-')) text = text.PadRight(width);
                else if (numeric && flags.Contains('0'))
                {
                    int signLength = text.Length > 0 && text[0] is '-' or '+' or ' ' ? 1 : 0;
                    text = text[..signLength] + new string('0', width - text.Length) + text[signLength..];
                }
                else text = text.PadLeft(width);
            }
            sb.Append(text);
        }
        if (next < values.Count) throw new JinjaException(pos, "not all arguments converted during string formatting");
        return sb.ToString();
    }

    // ---------------- methods of str, dict and list ----------------

    static JinjaFunction Method(string name, Func<CallArgs, object?> body) => new(name, body);

    static JinjaFunction NotAllowed(string type, string name) =>
        new($"{type}.{name}", args => throw args.Error($"{type}.{name}() changes the {type}, which chat templates may not do (they render in a sandbox)"));

    static JinjaFunction? DictMethod(PyDict dict, string name) => name switch
    {
        "get" => Method("dict.get", args =>
        {
            object? key = args.Expect("key", "default").Get(0, "key", CallArgs.Required);
            return key is not null && key is not (List<object?> and not PyTuple or PyDict) && dict.TryGetValue(key, out object? value) ? value : args.Get(1, "default", null);
        }),
        "items" => Method("dict.items", args => { args.Expect(); return dict.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList(); }),
        "keys" => Method("dict.keys", args => { args.Expect(); return dict.Keys.Cast<object?>().ToList(); }),
        "values" => Method("dict.values", args => { args.Expect(); return dict.Values.ToList(); }),
        "copy" => Method("dict.copy", args =>
        {
            args.Expect();
            var copy = new PyDict();
            foreach (var (k, v) in dict) copy[k] = v;
            return copy;
        }),
        "update" or "pop" or "popitem" or "setdefault" or "clear" => NotAllowed("dict", name),
        _ => null,
    };

    static JinjaFunction? ListMethod(List<object?> list, string name) => name switch
    {
        "index" => Method("list.index", args =>
        {
            object? item = args.Expect("value").Get(0, "value", CallArgs.Required);
            int i = list.FindIndex(x => Py.Eq(x, item));
            return i >= 0 ? (long)i : throw args.Error($"{Py.Repr(item)} is not in list");
        }),
        "count" => Method("list.count", args => { object? item = args.Expect("value").Get(0, "value", CallArgs.Required); return (long)list.Count(x => Py.Eq(x, item)); }),
        "copy" when list is not PyTuple => Method("list.copy", args => { args.Expect(); return list.ToList(); }),
        "append" or "extend" or "insert" or "remove" or "pop" or "sort" or "reverse" or "clear" when list is not PyTuple => NotAllowed("list", name),
        _ => null,
    };

    static JinjaFunction? StringMethod(JinjaInterpreter runtime, string s, string name, SourcePos pos) => name switch
    {
        "upper" => Method("str.upper", args => { args.Expect(); return s.ToUpperInvariant(); }),
        "lower" => Method("str.lower", args => { args.Expect(); return s.ToLowerInvariant(); }),
        "title" => Method("str.title", args => { args.Expect(); return PythonTitle(s); }),
        "capitalize" => Method("str.capitalize", args => { args.Expect(); return Capitalize(s); }),
        "strip" => Method("str.strip", args => Strip(s, args.Expect("chars").Get(0, "chars", null), left: true, right: true)),
        "lstrip" => Method("str.lstrip", args => Strip(s, args.Expect("chars").Get(0, "chars", null), left: true, right: false)),
        "rstrip" => Method("str.rstrip", args => Strip(s, args.Expect("chars").Get(0, "chars", null), left: false, right: true)),
        "split" => Method("str.split", args => SplitArgs(s, args, fromRight: false)),
        "rsplit" => Method("str.rsplit", args => SplitArgs(s, args, fromRight: true)),
        "splitlines" => Method("str.splitlines", args => SplitLines(s, Py.Truthy(args.Expect("keepends").Get(0, "keepends", false)))),
        "startswith" => Method("str.startswith", args => Affix(s, args, start: true)),
        "endswith" => Method("str.endswith", args => Affix(s, args, start: false)),
        "replace" => Method("str.replace", args =>
        {
            args.Expect("old", "new", "count");
            object? count = args.Get(2, "count", -1L);
            return ReplaceText(runtime, s, StringArg(args, 0, "old"), StringArg(args, 1, "new"), Py.IsInteger(count) ? Py.AsLong(count) : -1, args.Pos);
        }),
        "removeprefix" => Method("str.removeprefix", args => { string p = StringArg(args.Expect("prefix"), 0, "prefix"); return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s; }),
        "removesuffix" => Method("str.removesuffix", args => { string p = StringArg(args.Expect("suffix"), 0, "suffix"); return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s; }),
        "find" => Method("str.find", args => (long)CodePointIndex(s, s.IndexOf(StringArg(args.Expect("sub"), 0, "sub"), StringComparison.Ordinal))),
        "rfind" => Method("str.rfind", args => (long)CodePointIndex(s, s.LastIndexOf(StringArg(args.Expect("sub"), 0, "sub"), StringComparison.Ordinal))),
        "count" => Method("str.count", args => (long)CountOccurrences(s, StringArg(args.Expect("sub"), 0, "sub"))),
        "join" => Method("str.join", args =>
        {
            var parts = new List<string>();
            long length = 0;
            foreach (object? item in runtime.Items(args.Expect("iterable").Get(0, "iterable", CallArgs.Required), args.Pos))
            {
                if (item is not string part) throw args.Error($"sequence item {parts.Count}: expected str instance, {Py.TypeName(item)} found");
                length += part.Length + s.Length;
                runtime.CheckLength(length, args.Pos);
                parts.Add(part);
            }
            return string.Join(s, parts);
        }),
        "format" => Method("str.format", args => runtime.CheckLength(BraceFormat(s, args), args.Pos)),
        "isdigit" => Method("str.isdigit", args => { args.Expect(); return s.Length > 0 && s.All(char.IsDigit); }),
        "isalpha" => Method("str.isalpha", args => { args.Expect(); return s.Length > 0 && s.All(char.IsLetter); }),
        "isalnum" => Method("str.isalnum", args => { args.Expect(); return s.Length > 0 && s.All(char.IsLetterOrDigit); }),
        "isspace" => Method("str.isspace", args => { args.Expect(); return s.Length > 0 && s.All(JinjaLexer.IsSpace); }),
        "islower" => Method("str.islower", args => { args.Expect(); return s.Any(char.IsLetter) && s == s.ToLowerInvariant(); }),
        "isupper" => Method("str.isupper", args => { args.Expect(); return s.Any(char.IsLetter) && s == s.ToUpperInvariant(); }),
        _ => null,
    };

    static string StringArg(CallArgs args, int position, string name) =>
        args.Get(position, name, CallArgs.Required) as string ?? throw args.Error($"argument '{name}' must be a string");

    static int CodePointIndex(string s, int utf16Index) => utf16Index <= 0 || !Py.HasSurrogates(s) ? utf16Index : Py.Length(s[..utf16Index]);

    static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return Py.Length(s) + 1;
        int count = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    static string ReplaceText(JinjaInterpreter runtime, string s, string old, string replacement, long count, SourcePos pos)
    {
        if (old.Length == 0)
        {
            // Python inserts the replacement around every character.
            List<string> chars = Py.CodePoints(s);
            long inserts = count < 0 ? chars.Count + 1 : Math.Min(count, chars.Count + 1);
            runtime.CheckLength(s.Length + inserts * replacement.Length, pos);
            var sb = new StringBuilder();
            for (int i = 0; i <= chars.Count; i++)
            {
                if (i < inserts) sb.Append(replacement);
                if (i < chars.Count) sb.Append(chars[i]);
            }
            return sb.ToString();
        }
        long occurrences = CountOccurrences(s, old);
        if (count >= 0) occurrences = Math.Min(occurrences, count);
        runtime.CheckLength(s.Length + occurrences * (replacement.Length - old.Length), pos);
        if (count < 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var result = new StringBuilder();
        int at = 0;
        for (long done = 0; done < count; done++)
        {
            int found = s.IndexOf(old, at, StringComparison.Ordinal);
            if (found < 0) break;
            result.Append(s, at, found - at).Append(replacement);
            at = found + old.Length;
        }
        return result.Append(s, at, s.Length - at).ToString();
    }

    static bool Affix(string s, CallArgs args, bool start)
    {
        object? affix = args.Expect("prefix", "start", "end").Get(0, "prefix", CallArgs.Required);
        object? from = args.Get(1, "start", null), to = args.Get(2, "end", null);
        if (from is not null || to is not null) s = (string)Slice(s, from, to, null, args.Pos)!;
        IEnumerable<object?> options = affix is PyTuple tuple ? tuple : [affix];
        foreach (object? option in options)
        {
            if (option is not string text) throw args.Error($"{(start ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {Py.TypeName(option)}");
            if (start ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        Func<int, bool> strip;
        if (chars is null) strip = c => c <= 0xFFFF && JinjaLexer.IsSpace((char)c);
        else if (chars is string set)
        {
            var runes = set.EnumerateRunes().Select(r => r.Value).ToHashSet();
            strip = runes.Contains;
        }
        else throw new InvalidOperationException($"strip arg must be None or str, not {Py.TypeName(chars)}");
        List<string> points = Py.CodePoints(s);
        int first = 0, last = points.Count;
        if (left) while (first < last && strip(char.ConvertToUtf32(points[first], 0))) first++;
        if (right) while (last > first && strip(char.ConvertToUtf32(points[last - 1], 0))) last--;
        return first == 0 && last == points.Count ? s : string.Concat(points.Skip(first).Take(last - first));
    }

    static List<object?> SplitArgs(string s, CallArgs args, bool fromRight)
    {
        args.Expect("sep", "maxsplit");
        object? sep = args.Get(0, "sep", null);
        object? max = args.Get(1, "maxsplit", -1L);
        if (sep is not null and not string) throw args.Error($"must be str or None, not {Py.TypeName(sep)}");
        if (sep is "") throw args.Error("empty separator");
        long maxSplit = Py.IsInteger(max) ? Py.AsLong(max) : throw args.Error("maxsplit must be an integer");
        List<string> parts = fromRight ? RSplit(s, (string?)sep, maxSplit) : Split(s, (string?)sep, maxSplit);
        return parts.Cast<object?>().ToList();
    }

    /// <summary>Python's str.split: with no separator, runs of whitespace split and the ends are dropped.</summary>
    public static List<string> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<string>();
        if (sep is not null)
        {
            int at = 0;
            while (maxSplit < 0 || parts.Count < maxSplit)
            {
                int found = s.IndexOf(sep, at, StringComparison.Ordinal);
                if (found < 0) break;
                parts.Add(s[at..found]);
                at = found + sep.Length;
            }
            parts.Add(s[at..]);
            return parts;
        }
        int i = 0;
        while (true)
        {
            while (i < s.Length && JinjaLexer.IsSpace(s[i])) i++;
            if (i >= s.Length) break;
            if (maxSplit >= 0 && parts.Count >= maxSplit)
            {
                parts.Add(s[i..]);
                break;
            }
            int start = i;
            while (i < s.Length && !JinjaLexer.IsSpace(s[i])) i++;
            parts.Add(s[start..i]);
        }
        return parts;
    }

    static List<string> RSplit(string s, string? sep, long maxSplit)
    {
        var parts = new List<string>();
        if (sep is not null)
        {
            int end = s.Length;
            while (maxSplit < 0 || parts.Count < maxSplit)
            {
                int found = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
                if (found < 0 || found + sep.Length > end) break;
                parts.Add(s[(found + sep.Length)..end]);
                end = found;
            }
            parts.Add(s[..end]);
            parts.Reverse();
            return parts;
        }
        int i = s.Length;
        while (true)
        {
            while (i > 0 && JinjaLexer.IsSpace(s[i - 1])) i--;
            if (i <= 0) break;
            if (maxSplit >= 0 && parts.Count >= maxSplit)
            {
                parts.Add(s[..i]);
                break;
            }
            int end = i;
            while (i > 0 && !JinjaLexer.IsSpace(s[i - 1])) i--;
            parts.Add(s[i..end]);
        }
        parts.Reverse();
        return parts;
    }

    static List<object?> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            int end = i;
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            lines.Add(keepEnds ? s[start..(i + 1)] : s[start..end]);
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Python's str.title: a letter after a letter is lowered, any other letter raised ("they're" → "They'Re").</summary>
    static string PythonTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool letter = char.IsLetter(c);
            sb.Append(letter ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = letter;
        }
        return sb.ToString();
    }

    /// <summary>Python's str.format for "{}", "{0}", "{name}" and "{{ }}", with "!r"/"!s" but no format specs.</summary>
    static string BraceFormat(string format, CallArgs args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}') i++;
                else throw args.Error("single '}' encountered in format string");
                sb.Append('}');
                continue;
            }
            if (c != '{')
            {
                sb.Append(c);
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '{')
            {
                sb.Append('{');
                i++;
                continue;
            }
            int close = format.IndexOf('}', i);
            if (close < 0) throw args.Error("single '{' encountered in format string");
            string field = format[(i + 1)..close];
            i = close;
            char conversion = 's';
            int bang = field.IndexOf('!');
            if (bang >= 0)
            {
                conversion = field.Length > bang + 1 ? field[bang + 1] : 's';
                field = field[..bang];
            }
            if (field.Contains(':') || field.Contains('.') || field.Contains('[')) throw args.Error($"format field '{{{field}}}' is not supported (only {{}}, {{0}}, {{name}})");
            object? value = field.Length == 0 ? args.Get(auto++, "", CallArgs.Required)
                : int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int position) ? args.Get(position, "", CallArgs.Required)
                : args.Get(int.MaxValue, field, CallArgs.Required);
            sb.Append(conversion == 'r' ? Py.Repr(value) : Py.Str(value));
        }
        return sb.ToString();
    }
}
