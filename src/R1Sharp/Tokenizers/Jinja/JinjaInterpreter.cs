using System.Text;

namespace R1Sharp.Tokenizers.Jinja;

/// <summary>
/// Runs a parsed template. Scoping follows Jinja2: each for-loop iteration, macro call, "with" and "call" body gets its
/// own frame, so "{% set %}" inside them is invisible outside (hence namespace()); "if" shares its frame.
/// Every expression and loop step is counted against <see cref="JinjaLimits"/>, so a template cannot run forever,
/// recurse without end or build unbounded text.
/// </summary>
public sealed class JinjaInterpreter
{
    enum Flow { Normal, Break, Continue }

    sealed class Frame(Frame? parent)
    {
        readonly Dictionary<string, object?> vars = new(StringComparer.Ordinal);
        public Frame? Parent { get; } = parent;

        public bool TryGet(string name, out object? value)
        {
            for (Frame? f = this; f is not null; f = f.Parent)
                if (f.vars.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }

        public void Set(string name, object? value) => vars[name] = value;
    }

    readonly JinjaLimits limits;
    internal TimeProvider Clock { get; }
    long steps, iterations;
    int callDepth;

    JinjaInterpreter(JinjaLimits limits, TimeProvider clock)
    {
        this.limits = limits;
        Clock = clock;
    }

    public static string Render(List<Node> template, IReadOnlyDictionary<string, object?> variables, JinjaLimits limits, TimeProvider clock)
    {
        var interpreter = new JinjaInterpreter(limits, clock);
        var globals = new Frame(null);
        foreach (var (name, value) in JinjaBuiltins.Globals(interpreter)) globals.Set(name, value);
        foreach (var (name, value) in variables) globals.Set(name, value);
        var output = new StringBuilder();
        interpreter.Execute(template, new Frame(globals), output);
        return output.ToString();
    }

    // ---------------- limits ----------------

    void Step(Node node)
    {
        if (++steps > limits.MaxSteps)
            throw new JinjaException(node.Pos, $"the template took more than {limits.MaxSteps:N0} evaluation steps (limit; does it loop without end?)");
    }

    internal string CheckLength(string s, SourcePos pos)
    {
        if (s.Length > limits.MaxOutputChars)
            throw new JinjaException(pos, $"the template built a string of more than {limits.MaxOutputChars:N0} characters (limit)");
        return s;
    }

    /// <summary>Fails before a string of <paramref name="length"/> characters is made.</summary>
    internal void CheckLength(long length, SourcePos pos)
    {
        if (length > limits.MaxOutputChars)
            throw new JinjaException(pos, $"the template would build a string of {length:N0} characters, more than the limit of {limits.MaxOutputChars:N0}");
    }

    internal void CheckCount(long count, SourcePos pos)
    {
        if (count > limits.MaxItems)
            throw new JinjaException(pos, $"the template would build a list of {count:N0} items, more than the limit of {limits.MaxItems:N0}");
    }

    void Append(StringBuilder output, string text, SourcePos pos)
    {
        if ((long)output.Length + text.Length > limits.MaxOutputChars)
            throw new JinjaException(pos, $"the template output exceeds {limits.MaxOutputChars:N0} characters (limit)");
        output.Append(text);
    }

    // ---------------- statements ----------------

    Flow Execute(List<Node> nodes, Frame frame, StringBuilder output)
    {
        foreach (Node node in nodes)
        {
            Step(node);
            switch (node)
            {
                case TextNode text: Append(output, text.Text, text.Pos); break;
                case OutputNode o: Append(output, Py.Str(Eval(o.Value, frame)), o.Pos); break;
                case IfNode n:
                    List<Node>? chosen = n.Else;
                    foreach (var (test, body) in n.Branches)
                        if (Py.Truthy(Eval(test, frame)))
                        {
                            chosen = body;
                            break;
                        }
                    if (chosen is not null && Execute(chosen, frame, output) is var flow and not Flow.Normal) return flow;
                    break;
                case ForNode n: ExecuteFor(n, frame, output); break;
                case SetNode n: Assign(n.Target, Eval(n.Value, frame), frame); break;
                case SetBlockNode n:
                    var captured = new StringBuilder();
                    Execute(n.Body, new Frame(frame), captured);
                    frame.Set(n.Name, ApplyFilters(n.Filters, captured.ToString(), frame));
                    break;
                case MacroNode n: frame.Set(n.Name, MakeMacro(n.Name, n.Parameters, n.Body, frame, n.Pos)); break;
                case CallBlockNode n:
                    JinjaFunction caller = MakeMacro("caller", n.CallerParameters, n.Body, frame, n.Pos);
                    Append(output, Py.Str(Call(n.Call, frame, caller)), n.Pos);
                    break;
                case FilterBlockNode n:
                    var filtered = new StringBuilder();
                    Execute(n.Body, new Frame(frame), filtered);
                    Append(output, Py.Str(ApplyFilters(n.Filters, filtered.ToString(), frame)), n.Pos);
                    break;
                case WithNode n:
                    var inner = new Frame(frame);
                    foreach (var (name, value) in n.Assignments) inner.Set(name, Eval(value, frame));
                    if (Execute(n.Body, inner, output) is var withFlow and not Flow.Normal) return withFlow;
                    break;
                case BreakNode: return Flow.Break;
                case ContinueNode: return Flow.Continue;
                default: throw new JinjaException(node.Pos, $"cannot execute {node.GetType().Name}");
            }
        }
        return Flow.Normal;
    }

    /// <summary>Each iteration gets a fresh frame, as in Jinja2: a "{% set %}" in the body is gone by the next iteration.</summary>
    void ExecuteFor(ForNode n, Frame frame, StringBuilder output)
    {
        List<object?> items = Items(Eval(n.Iterable, frame), n.Iterable.Pos);
        if (n.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                CountIteration(n.Pos);
                var filterFrame = new Frame(frame);
                Assign(n.Target, item, filterFrame);
                if (Py.Truthy(Eval(n.Filter, filterFrame))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (n.Else is not null) Execute(n.Else, new Frame(frame), output);
            return;
        }
        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            CountIteration(n.Pos);
            loop.Index0 = i;
            var iteration = new Frame(frame);
            Assign(n.Target, items[i], iteration);
            iteration.Set("loop", loop);
            if (Execute(n.Body, iteration, output) == Flow.Break) break;
        }
    }

    void CountIteration(SourcePos pos)
    {
        if (++iterations > limits.MaxLoopIterations)
            throw new JinjaException(pos, $"the template ran more than {limits.MaxLoopIterations:N0} loop iterations (limit)");
    }

    /// <summary>What a for loop walks: list items, dict keys, the characters of a string, what is left of an iterator;
    /// Undefined walks nothing.</summary>
    internal List<object?> Items(object? value, SourcePos pos) => value switch
    {
        Undefined => [],
        List<object?> list => [.. list],
        PyIterator iterator => [.. iterator.Consume()],
        PyDict dict => [.. dict.Keys],
        string s => [.. Py.CodePoints(s)],
        Markup m => [.. Py.CodePoints(m.Text)],
        _ => throw new JinjaException(pos, $"'{Py.TypeName(value)}' object is not iterable"),
    };

    void Assign(Expr target, object? value, Frame frame)
    {
        switch (target)
        {
            case NameExpr name:
                if (name.Name is "true" or "false" or "none" or "loop") throw new JinjaException(name.Pos, $"cannot assign to '{name.Name}'");
                frame.Set(name.Name, value);
                break;
            case AttributeExpr { Target: NameExpr ns } attribute:
                if (!frame.TryGet(ns.Name, out object? obj) || obj is not Namespace space)
                    throw new JinjaException(attribute.Pos, $"cannot assign attribute on non-namespace object '{ns.Name}'");
                space.Attributes[attribute.Name] = value;
                break;
            case TupleExpr tuple:
                List<object?> items = Items(value, target.Pos);
                if (items.Count != tuple.Items.Count)
                    throw new JinjaException(target.Pos, $"cannot unpack {items.Count} values into {tuple.Items.Count} names");
                for (int i = 0; i < items.Count; i++) Assign(tuple.Items[i], items[i], frame);
                break;
            default: throw new JinjaException(target.Pos, "cannot assign to this expression");
        }
    }

    JinjaFunction MakeMacro(string name, List<Parameter> parameters, List<Node> body, Frame definition, SourcePos pos) => new(name, args =>
    {
        if (++callDepth > limits.MaxCallDepth)
            throw new JinjaException(args.Pos, $"macro calls nest deeper than {limits.MaxCallDepth} (limit; does '{name}' call itself without end?)");
        try
        {
            var frame = new Frame(definition);
            var extraNamed = new PyDict();
            var bound = new HashSet<string>();
            for (int i = 0; i < parameters.Count && i < args.Positional.Count; i++)
            {
                frame.Set(parameters[i].Name, args.Positional[i]);
                bound.Add(parameters[i].Name);
            }
            foreach (var (argName, value) in args.Named)
            {
                if (argName == "caller" && value is JinjaFunction) frame.Set("caller", value);
                else if (parameters.Any(p => p.Name == argName))
                {
                    if (!bound.Add(argName)) throw new JinjaException(args.Pos, $"macro '{name}' got multiple values for argument '{argName}'");
                    frame.Set(argName, value);
                }
                else extraNamed[argName] = value;
            }
            foreach (Parameter p in parameters)
                if (!bound.Contains(p.Name))
                    frame.Set(p.Name, p.Default is null ? new Undefined($"parameter '{p.Name}' was not provided") : Eval(p.Default, frame));
            frame.Set("varargs", new PyTuple(args.Positional.Skip(parameters.Count)));
            frame.Set("kwargs", extraNamed);
            var output = new StringBuilder();
            Execute(body, frame, output);
            return output.ToString();
        }
        finally
        {
            callDepth--;
        }
    });

    object? ApplyFilters(List<FilterExpr> filters, object? value, Frame frame)
    {
        foreach (FilterExpr f in filters) value = ApplyFilter(f, value, frame);
        return value;
    }

    // ---------------- expressions ----------------

    object? Eval(Expr e, Frame frame)
    {
        Step(e);
        try
        {
            return EvalCore(e, frame);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OverflowException or ArgumentException or FormatException)
        {
            throw new JinjaException(e.Pos, ex.Message);
        }
    }

    object? EvalCore(Expr e, Frame frame)
    {
        switch (e)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return frame.TryGet(n.Name, out object? value) ? value : new Undefined($"'{n.Name}' is undefined");
            case TupleExpr t: return new PyTuple(t.Items.Select(i => Eval(i, frame)));
            case ListExpr l: return l.Items.Select(i => Eval(i, frame)).ToList();
            case DictExpr d:
                var dict = new PyDict();
                foreach (var (key, val) in d.Items) dict[Eval(key, frame) ?? throw new JinjaException(key.Pos, "dict keys cannot be none")] = Eval(val, frame);
                return dict;
            case AttributeExpr attribute: return JinjaBuiltins.GetAttribute(this, Eval(attribute.Target, frame), attribute.Name, attribute.Pos);
            case ItemExpr i:
                object? target = Eval(i.Target, frame);
                return i.Key is SliceExpr slice
                    ? JinjaBuiltins.Slice(target, SliceBound(slice.Start, frame), SliceBound(slice.Stop, frame), SliceBound(slice.Step, frame), i.Pos)
                    : JinjaBuiltins.GetItem(this, target, Eval(i.Key, frame), i.Pos);
            case CallExpr call: return Call(call, frame, null);
            case FilterExpr f: return ApplyFilter(f, Eval(f.Value!, frame), frame);
            case TestExpr t:
                bool result = JinjaBuiltins.Test(this, t.Name, Eval(t.Value, frame), Arguments(t.Args, [], frame, t.Pos, $"test '{t.Name}'"), t.Pos);
                return t.Negated ? !result : result;
            case AndExpr and:
                object? left = Eval(and.Left, frame);
                return Py.Truthy(left) ? Eval(and.Right, frame) : left;
            case OrExpr or:
                object? first = Eval(or.Left, frame);
                return Py.Truthy(first) ? first : Eval(or.Right, frame);
            case NotExpr not: return !Py.Truthy(Eval(not.Operand, frame));
            case ConditionalExpr c:
                if (Py.Truthy(Eval(c.Test, frame))) return Eval(c.Then, frame);
                return c.Else is null ? new Undefined("the conditional expression had no else branch") : Eval(c.Else, frame);
            case CompareExpr c:
                object? a = Eval(c.First, frame);
                foreach (var (op, operand) in c.Rest)
                {
                    object? b = Eval(operand, frame);
                    if (!JinjaBuiltins.Compare(op, a, b, c.Pos)) return false;
                    a = b;
                }
                return true;
            case UnaryExpr u: return JinjaBuiltins.Unary(u.Op, Eval(u.Operand, frame), u.Pos);
            case BinaryExpr b: return JinjaBuiltins.Binary(this, b.Op, Eval(b.Left, frame), Eval(b.Right, frame), b.Pos);
            case SliceExpr s: throw new JinjaException(s.Pos, "a slice can only appear inside [ ]");
            default: throw new JinjaException(e.Pos, $"cannot evaluate {e.GetType().Name}");
        }
    }

    object? SliceBound(Expr? bound, Frame frame) => bound is null ? null : Eval(bound, frame);

    object? Call(CallExpr call, Frame frame, JinjaFunction? caller)
    {
        object? callee = Eval(call.Callee, frame);
        string what = call.Callee switch { NameExpr n => n.Name, AttributeExpr a => a.Name, _ => "call" };
        CallArgs args = Arguments(call.Args, call.Kwargs, frame, call.Pos, what);
        if (caller is not null) args.Named.Add(("caller", caller));
        return callee switch
        {
            JinjaFunction f => f.Invoke(args),
            Undefined u => throw new JinjaException(call.Pos, u.Hint),
            _ => throw new JinjaException(call.Pos, $"'{Py.TypeName(callee)}' object is not callable"),
        };
    }

    CallArgs Arguments(List<Expr> args, List<(string Name, Expr Value)> kwargs, Frame frame, SourcePos pos, string what) =>
        new(args.Select(a => Eval(a, frame)).ToList(), kwargs.Select(k => (k.Name, Eval(k.Value, frame))).ToList(), pos, what);

    object? ApplyFilter(FilterExpr f, object? value, Frame frame) =>
        JinjaBuiltins.Filter(this, f.Name, value, Arguments(f.Args, f.Kwargs, frame, f.Pos, $"filter '{f.Name}'"), f.Pos);
}

/// <summary>The "loop" variable inside a for loop.</summary>
public sealed class LoopContext(List<object?> items)
{
    object?[]? lastChanged;

    public int Index0 { get; set; }
    public int Length => items.Count;

    public object? Attribute(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Length - 1 ? items[Index0 + 1] : new Undefined("there is no next item"),
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new JinjaFunction("loop.cycle", args =>
            args.Positional.Count == 0 ? throw args.Error("needs at least one value") : args.Positional[Index0 % args.Positional.Count]),
        "changed" => new JinjaFunction("loop.changed", args =>
        {
            object?[] now = [.. args.Positional];
            bool changed = lastChanged is null || now.Length != lastChanged.Length || now.Where((v, i) => !Py.Eq(v, lastChanged[i])).Any();
            lastChanged = now;
            return changed;
        }),
        _ => new Undefined($"'LoopContext' object has no attribute '{name}'"),
    };
}
