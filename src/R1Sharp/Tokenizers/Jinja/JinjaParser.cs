namespace R1Sharp.Tokenizers.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja2 statements and expressions chat templates use, with Jinja2's
/// precedence (lowest first): <c>x if c else y</c>, or, and, not, comparisons (==, !=, &lt;, in, not in, …),
/// + -, ~, * / // %, **, unary - +, then filters (<c>|f</c>), tests (<c>is t</c>), attributes, subscripts and calls.
/// Constructs that need files or are not in the chat-template subset (include, import, extends, block, recursive
/// loops, *args) fail here, naming the construct and its place.
/// </summary>
public sealed class JinjaParser
{
    const int MaxNesting = 200; // deeper expressions or blocks are refused rather than risking the stack

    static readonly HashSet<string> Unsupported = ["include", "import", "from", "extends", "block", "do", "autoescape", "trans", "pluralize", "debug"];
    static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    readonly List<JinjaToken> tokens;
    int index;
    int depth;
    int loopDepth;

    JinjaParser(List<JinjaToken> tokens) => this.tokens = tokens;

    public static List<Node> Parse(string template)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(template));
        List<Node> body = parser.ParseBody([]);
        if (parser.Current.Kind != TokenKind.Eof) throw parser.Error($"unexpected '{parser.Current.Text}'");
        return body;
    }

    JinjaToken Current => index < tokens.Count ? tokens[index] : new JinjaToken(TokenKind.Eof, "end of template", tokens.Count > 0 ? tokens[^1].Pos : new SourcePos(1, 1));
    JinjaToken Peek(int ahead = 1) => index + ahead < tokens.Count ? tokens[index + ahead] : new JinjaToken(TokenKind.Eof, "end of template", Current.Pos);
    JinjaToken Next() => tokens[index++];

    JinjaException Error(string message) => new(Current.Pos, message);

    JinjaToken Expect(TokenKind kind, string? text = null)
    {
        JinjaToken t = Current;
        if (t.Kind != kind || (text is not null && t.Text != text))
            throw Error($"expected {(text is null ? kind.ToString().ToLowerInvariant() : $"'{text}'")}, found '{t.Text}'");
        return Next();
    }

    bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        index++;
        return true;
    }

    bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        index++;
        return true;
    }

    void Enter()
    {
        if (++depth > MaxNesting) throw Error($"the template nests deeper than {MaxNesting} levels");
    }

    // ---------------- statements ----------------

    /// <summary>Nodes up to a "{% name %}" whose name is one of <paramref name="endTags"/>; stops with that name current.</summary>
    List<Node> ParseBody(string[] endTags)
    {
        Enter();
        var body = new List<Node>();
        while (true)
        {
            JinjaToken t = Current;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (endTags.Length > 0) throw Error($"missing '{{% {endTags[^1]} %}}' before the end of the template");
                    depth--;
                    return body;
                case TokenKind.Data:
                    body.Add(new TextNode(t.Text, t.Pos));
                    index++;
                    break;
                case TokenKind.VariableBegin:
                    index++;
                    body.Add(new OutputNode(ParseTuple(), t.Pos));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    JinjaToken name = Peek();
                    if (name.Kind == TokenKind.Name && endTags.Contains(name.Text))
                    {
                        index++;
                        depth--;
                        return body;
                    }
                    index++;
                    ParseStatement(body);
                    break;
                default:
                    throw Error($"unexpected '{t.Text}'");
            }
        }
    }

    void ParseStatement(List<Node> body)
    {
        JinjaToken name = Current;
        if (name.Kind != TokenKind.Name) throw Error($"expected a statement name after '{{%', found '{name.Text}'");
        index++;
        SourcePos pos = name.Pos;
        switch (name.Text)
        {
            case "if": body.Add(ParseIf(pos)); break;
            case "for": body.Add(ParseFor(pos)); break;
            case "set": body.Add(ParseSet(pos)); break;
            case "macro": body.Add(ParseMacro(pos)); break;
            case "call": body.Add(ParseCallBlock(pos)); break;
            case "filter":
                var filters = ParseFilterChain();
                Expect(TokenKind.BlockEnd);
                body.Add(new FilterBlockNode(filters, ParseBlock("endfilter"), pos));
                break;
            case "with": body.Add(ParseWith(pos)); break;
            case "generation":
                // transformers' AssistantTracker tag: renders its body as is (it only records where the body went).
                Expect(TokenKind.BlockEnd);
                body.Add(new WithNode([], ParseBlock("endgeneration"), pos));
                break;
            case "break" or "continue":
                if (loopDepth == 0) throw new JinjaException(pos, $"'{{% {name.Text} %}}' outside a for loop");
                Expect(TokenKind.BlockEnd);
                body.Add(name.Text == "break" ? new BreakNode(pos) : new ContinueNode(pos));
                break;
            default:
                if (Unsupported.Contains(name.Text))
                    throw new JinjaException(pos, $"'{{% {name.Text} %}}' is not supported in chat templates (no other templates or files can be loaded)");
                throw new JinjaException(pos, $"unknown statement '{{% {name.Text} %}}'");
        }
    }

    /// <summary>After "%}": the statements up to "{% endTag %}", which is consumed.</summary>
    List<Node> ParseBlock(string endTag)
    {
        var body = ParseBody([endTag]);
        index++; // the end tag's name
        Expect(TokenKind.BlockEnd);
        return body;
    }

    IfNode ParseIf(SourcePos pos)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        Expr test = ParseTuple();
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            List<Node> body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            string tag = Next().Text;
            if (tag == "elif")
            {
                test = ParseTuple();
                continue;
            }
            if (tag == "else")
            {
                Expect(TokenKind.BlockEnd);
                elseBody = ParseBlock("endif");
            }
            else Expect(TokenKind.BlockEnd);
            return new IfNode(branches, elseBody, pos);
        }
    }

    ForNode ParseFor(SourcePos pos)
    {
        Expr target = ParseAssignTarget(allowNamespace: false);
        Expect(TokenKind.Name, "in");
        Expr iterable = ParseTuple(withCondition: false);
        Expr? filter = SkipName("if") ? ParseExpression() : null;
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported in chat templates");
        Expect(TokenKind.BlockEnd);
        loopDepth++;
        List<Node> body = ParseBody(["else", "endfor"]);
        loopDepth--;
        List<Node>? elseBody = null;
        if (Next().Text == "else")
        {
            Expect(TokenKind.BlockEnd);
            elseBody = ParseBlock("endfor");
        }
        else Expect(TokenKind.BlockEnd);
        return new ForNode(target, iterable, filter, body, elseBody, pos);
    }

    Node ParseSet(SourcePos pos)
    {
        Expr target = ParseAssignTarget(allowNamespace: true);
        if (SkipOperator("="))
        {
            Expr value = ParseTuple();
            Expect(TokenKind.BlockEnd);
            return new SetNode(target, value, pos);
        }
        if (target is not NameExpr name) throw Error("a '{% set %}' block assigns a single name");
        List<FilterExpr> filters = Current.IsOperator("|") ? ParseFilterChain(skipFirstPipe: true) : [];
        Expect(TokenKind.BlockEnd);
        return new SetBlockNode(name.Name, filters, ParseBlock("endset"), pos);
    }

    MacroNode ParseMacro(SourcePos pos)
    {
        string name = Expect(TokenKind.Name).Text;
        List<Parameter> parameters = ParseParameters();
        Expect(TokenKind.BlockEnd);
        int outerLoops = loopDepth;
        loopDepth = 0; // break/continue cannot leave a macro
        List<Node> body = ParseBody(["endmacro"]);
        loopDepth = outerLoops;
        index++;
        if (Current.Kind == TokenKind.Name) index++; // "{% endmacro name %}"
        Expect(TokenKind.BlockEnd);
        return new MacroNode(name, parameters, body, pos);
    }

    CallBlockNode ParseCallBlock(SourcePos pos)
    {
        List<Parameter> parameters = Current.IsOperator("(") ? ParseParameters() : [];
        if (ParseExpression() is not CallExpr call) throw new JinjaException(pos, "'{% call %}' needs a macro call, like '{% call m(x) %}'");
        Expect(TokenKind.BlockEnd);
        return new CallBlockNode(call, parameters, ParseBlock("endcall"), pos);
    }

    WithNode ParseWith(SourcePos pos)
    {
        var assignments = new List<(string, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) Expect(TokenKind.Operator, ",");
            string name = Expect(TokenKind.Name).Text;
            Expect(TokenKind.Operator, "=");
            assignments.Add((name, ParseExpression()));
        }
        Expect(TokenKind.BlockEnd);
        return new WithNode(assignments, ParseBlock("endwith"), pos);
    }

    List<Parameter> ParseParameters()
    {
        Expect(TokenKind.Operator, "(");
        var parameters = new List<Parameter>();
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            string name = Expect(TokenKind.Name).Text;
            Expr? defaultValue = SkipOperator("=") ? ParseExpression() : null;
            if (defaultValue is null && parameters.Count > 0 && parameters[^1].Default is not null)
                throw Error($"parameter '{name}' without a default follows one with a default");
            parameters.Add(new Parameter(name, defaultValue));
        }
        return parameters;
    }

    /// <summary>A name, a "ns.attribute" (set only), or names separated by commas (optionally in parentheses).</summary>
    Expr ParseAssignTarget(bool allowNamespace)
    {
        JinjaToken first = Current;
        if (allowNamespace && first.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            index += 2;
            return new AttributeExpr(new NameExpr(first.Text, first.Pos), Expect(TokenKind.Name).Text, first.Pos);
        }
        bool parens = SkipOperator("(");
        var names = new List<Expr>();
        do
        {
            if (parens && Current.IsOperator(")")) break;
            JinjaToken name = Expect(TokenKind.Name);
            names.Add(new NameExpr(name.Text, name.Pos));
        } while (SkipOperator(","));
        if (parens) Expect(TokenKind.Operator, ")");
        return names.Count == 1 && !parens ? names[0] : new TupleExpr(names, first.Pos);
    }

    // ---------------- expressions ----------------

    /// <summary>Expressions separated by commas form a tuple (as in "{{ a, b }}" or "for x in a, b").</summary>
    Expr ParseTuple(bool withCondition = true, bool explicitParens = false)
    {
        SourcePos pos = Current.Pos;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")")) break;
            items.Add(withCondition ? ParseExpression() : ParseOr());
            if (Current.IsOperator(",")) isTuple = true;
            else break;
        }
        if (isTuple) return new TupleExpr(items, pos);
        if (items.Count == 1) return items[0];
        if (explicitParens) return new TupleExpr(items, pos);
        throw new JinjaException(pos, $"expected an expression, found '{Current.Text}'");
    }

    Expr ParseExpression()
    {
        Enter();
        SourcePos pos = Current.Pos;
        Expr result = ParseOr();
        while (SkipName("if"))
        {
            Expr test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            result = new ConditionalExpr(test, result, otherwise, pos);
        }
        depth--;
        return result;
    }

    Expr ParseOr()
    {
        Expr left = ParseAnd();
        while (Current.IsName("or"))
        {
            SourcePos pos = Next().Pos;
            left = new OrExpr(left, ParseAnd(), pos);
        }
        return left;
    }

    Expr ParseAnd()
    {
        Expr left = ParseNot();
        while (Current.IsName("and"))
        {
            SourcePos pos = Next().Pos;
            left = new AndExpr(left, ParseNot(), pos);
        }
        return left;
    }

    Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        Enter();
        SourcePos pos = Next().Pos;
        Expr result = new NotExpr(ParseNot(), pos);
        depth--;
        return result;
    }

    Expr ParseCompare()
    {
        SourcePos pos = Current.Pos;
        Expr first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Text)) rest.Add((Next().Text, ParseMath1()));
            else if (SkipName("in")) rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                index += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, pos);
    }

    Expr ParseMath1()
    {
        Expr left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            JinjaToken op = Next();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Pos);
        }
        return left;
    }

    Expr ParseConcat()
    {
        Expr left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            JinjaToken op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Pos);
        }
        return left;
    }

    Expr ParseMath2()
    {
        Expr left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            JinjaToken op = Next();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Pos);
        }
        return left;
    }

    Expr ParsePow()
    {
        Expr left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
        {
            JinjaToken op = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), op.Pos);
        }
        return left;
    }

    Expr ParseUnary(bool withFilter)
    {
        Enter();
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            JinjaToken op = Next();
            node = new UnaryExpr(op.Text, ParseUnary(withFilter: false), op.Pos);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFiltersAndTests(node);
        depth--;
        return node;
    }

    Expr ParsePrimary()
    {
        JinjaToken t = Current;
        switch (t.Kind)
        {
            case TokenKind.Name:
                index++;
                return t.Text switch
                {
                    "true" or "True" => new ConstExpr(true, t.Pos),
                    "false" or "False" => new ConstExpr(false, t.Pos),
                    "none" or "None" => new ConstExpr(null, t.Pos),
                    _ => new NameExpr(t.Text, t.Pos),
                };
            case TokenKind.String:
                index++;
                string text = (string)t.Value!;
                while (Current.Kind == TokenKind.String) text += (string)Next().Value!; // adjacent literals join
                return new ConstExpr(text, t.Pos);
            case TokenKind.Integer or TokenKind.Float:
                index++;
                return new ConstExpr(t.Value, t.Pos);
            case TokenKind.Operator when t.Text == "(":
                index++;
                Expr inner = ParseTuple(explicitParens: true);
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when t.Text == "[":
                index++;
                var items = new List<Expr>();
                while (!SkipOperator("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",");
                    if (SkipOperator("]")) break;
                    items.Add(ParseExpression());
                }
                return new ListExpr(items, t.Pos);
            case TokenKind.Operator when t.Text == "{":
                index++;
                var pairs = new List<(Expr, Expr)>();
                while (!SkipOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                    if (SkipOperator("}")) break;
                    Expr key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                }
                return new DictExpr(pairs, t.Pos);
            default:
                throw Error(t.Kind == TokenKind.Eof ? "unexpected end of template" : $"unexpected '{t.Text}'");
        }
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            JinjaToken t = Current;
            if (t.IsOperator("."))
            {
                index++;
                JinjaToken attribute = Next();
                node = attribute.Kind switch
                {
                    TokenKind.Name => new AttributeExpr(node, attribute.Text, t.Pos),
                    TokenKind.Integer => new ItemExpr(node, new ConstExpr(attribute.Value, attribute.Pos), t.Pos),
                    _ => throw new JinjaException(attribute.Pos, $"expected an attribute name after '.', found '{attribute.Text}'"),
                };
            }
            else if (t.IsOperator("["))
            {
                index++;
                node = new ItemExpr(node, ParseSubscript(), t.Pos);
                Expect(TokenKind.Operator, "]");
            }
            else if (t.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    Expr ParseSubscript()
    {
        SourcePos pos = Current.Pos;
        var keys = new List<Expr>();
        do
        {
            if (Current.IsOperator("]")) break;
            keys.Add(ParseSliceOrExpression());
        } while (SkipOperator(","));
        return keys.Count == 1 ? keys[0] : new TupleExpr(keys, pos);
    }

    Expr ParseSliceOrExpression()
    {
        SourcePos pos = Current.Pos;
        Expr? start = Current.IsOperator(":") ? null : ParseExpression();
        if (!SkipOperator(":")) return start!;
        Expr? stop = Current.IsOperator(":") || Current.IsOperator("]") || Current.IsOperator(",") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(",")) step = ParseExpression();
        return new SliceExpr(start, stop, step, pos);
    }

    CallExpr ParseCall(Expr callee)
    {
        SourcePos pos = Current.Pos;
        (List<Expr> args, List<(string, Expr)> kwargs) = ParseArguments();
        return new CallExpr(callee, args, kwargs, pos);
    }

    (List<Expr> Args, List<(string, Expr)> Kwargs) ParseArguments()
    {
        Expect(TokenKind.Operator, "(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!SkipOperator(")"))
        {
            if (args.Count + kwargs.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            if (Current.IsOperator("*") || Current.IsOperator("**")) throw Error("'*args' and '**kwargs' in calls are not supported in chat templates");
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string name = Next().Text;
                index++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error("a positional argument follows a keyword argument");
                args.Add(ParseExpression());
            }
        }
        return (args, kwargs);
    }

    Expr ParseFiltersAndTests(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                index++;
                node = ParseFilter(node);
            }
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    FilterExpr ParseFilter(Expr? value)
    {
        JinjaToken name = Expect(TokenKind.Name);
        if (Current.IsOperator("."))
            throw Error($"dotted filter names like '{name.Text}.…' are not supported");
        if (!Current.IsOperator("(")) return new FilterExpr(value, name.Text, [], [], name.Pos);
        (List<Expr> args, List<(string, Expr)> kwargs) = ParseArguments();
        return new FilterExpr(value, name.Text, args, kwargs, name.Pos);
    }

    /// <summary>The filters of "{% filter f | g %}" and "{% set x | f %}", applied in order to the block's output.</summary>
    List<FilterExpr> ParseFilterChain(bool skipFirstPipe = false)
    {
        if (skipFirstPipe) Expect(TokenKind.Operator, "|");
        var filters = new List<FilterExpr> { ParseFilter(null) };
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        return filters;
    }

    Expr ParseTest(Expr value)
    {
        SourcePos pos = Next().Pos; // "is"
        bool negated = SkipName("not");
        string name = Expect(TokenKind.Name).Text;
        List<Expr> args;
        if (Current.IsOperator("("))
        {
            (args, var kwargs) = ParseArguments();
            if (kwargs.Count > 0) throw Error($"test '{name}' takes no keyword arguments");
        }
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and"))
        {
            // "x is divisibleby 3", "x is sameas false": one argument without parentheses.
            if (Current.IsName("is")) throw Error("tests cannot be chained with 'is'");
            args = [ParsePostfix(ParsePrimary())];
        }
        else args = [];
        return new TestExpr(value, name, args, negated, pos);
    }
}
