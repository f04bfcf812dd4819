using static R1Sharp.Tasks.Answers.MathExpr;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// Recursive-descent parser from <see cref="MathLexer"/> tokens to a <see cref="MathExpr"/>. It never
/// executes anything; it only builds a tree. Grammar, loosest first:
/// list (",") → relation (= &lt; ≤ ∈ ...) → union (\cup) → sum (+ - ±) → product (* / implicit) →
/// sign → power (^) → postfix (! %) → atom (number, letter, \frac, \sqrt, brackets, |x|, \{..\}, matrix).
/// </summary>
public sealed class MathParser
{
    // Deeper nesting than any real answer; bounds recursion on adversarial input like "((((...1))))".
    const int MaxDepth = 200;

    readonly List<Token> _tokens;
    int _pos, _depth;

    MathParser(List<Token> tokens) => _tokens = tokens;

    /// <summary>The parsed answer, or null if it isn't a well-formed mathematical answer.</summary>
    public static MathExpr? TryParse(string text)
    {
        try
        {
            var parser = new MathParser(MathLexer.Tokenize(text));
            var items = parser.ParseList();
            parser.Expect(TokenKind.End);
            return items.Count == 1 ? items[0] : new SetOf(items);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    Token Peek => _tokens[_pos];
    Token PeekAt(int offset) => _tokens[Math.Min(_pos + offset, _tokens.Count - 1)];
    bool IsSymbol(string text) => Peek.Kind == TokenKind.Symbol && Peek.Text == text;
    static FormatException Error(string what) => new(what);

    void Expect(string symbol)
    {
        if (!IsSymbol(symbol)) throw Error($"expected '{symbol}'");
        _pos++;
    }

    void Expect(TokenKind kind)
    {
        if (Peek.Kind != kind) throw Error($"expected {kind}");
        _pos++;
    }

    List<MathExpr> ParseList()
    {
        var items = new List<MathExpr> { ParseRelation() };
        while (IsSymbol(","))
        {
            _pos++;
            items.Add(ParseRelation());
        }
        return items;
    }

    static bool IsRelation(Token t) => t.Kind == TokenKind.Symbol && t.Text is "=" or "<" or ">" or "≤" or "≥" or "≠" or "∈";

    MathExpr ParseRelation()
    {
        var left = ParseUnion();
        if (!IsRelation(Peek)) return left;
        char op = Peek.Text[0];
        _pos++;
        var right = ParseUnion();
        // "1 = 2 = 3" or "a < x < b" chains are not single answers.
        if (IsRelation(Peek)) throw Error("chained relation");
        return new Relation(op, left, right);
    }

    MathExpr ParseUnion()
    {
        var first = ParseSum();
        if (Peek.Kind != TokenKind.Cup) return first;
        var items = new List<MathExpr> { first };
        while (Peek.Kind == TokenKind.Cup)
        {
            _pos++;
            items.Add(ParseSum());
        }
        return new Union(items);
    }

    void Enter()
    {
        if (++_depth > MaxDepth) throw Error("too deeply nested");
    }

    MathExpr ParseSum()
    {
        Enter();
        var left = ParseProduct();
        while (IsSymbol("+") || IsSymbol("-") || IsSymbol("±"))
        {
            char op = Peek.Text[0];
            _pos++;
            left = new Binary(op, left, ParseProduct());
        }
        _depth--;
        return left;
    }

    MathExpr ParseProduct()
    {
        int start = _pos;
        var left = ParseSign();
        if (IsIntegerLiteralAt(start, _pos) && TryMixedNumber() is { } fraction)
            left = left is Negate negative ? new Negate(new Binary('+', negative.Operand, fraction)) : new Binary('+', left, fraction);
        while (true)
        {
            if (IsSymbol("*") || IsSymbol("/"))
            {
                char op = Peek.Text[0];
                _pos++;
                left = new Binary(op, left, ParseSign());
            }
            // "2x", "3\sqrt{2}", "2\pi", "x(x+1)": juxtaposition multiplies; two numbers side by side never do.
            else if (Peek.Kind is TokenKind.Letter or TokenKind.Constant or TokenKind.Function or TokenKind.Frac or TokenKind.Sqrt
                     || IsSymbol("("))
                left = new Binary('*', left, ParsePower());
            else return left;
        }
    }

    /// <summary>Tokens [start, end) are "7" or "-7": the whole part of a possible mixed number.</summary>
    bool IsIntegerLiteralAt(int start, int end) =>
        (end - start == 1 && IsInteger(_tokens[start]))
        || (end - start == 2 && _tokens[start] is { Kind: TokenKind.Symbol, Text: "-" } && IsInteger(_tokens[start + 1]));

    static bool IsInteger(Token t) => t.Kind == TokenKind.Number && t.Text.All(char.IsAsciiDigit);

    /// <summary>The proper fraction of a mixed number "2\frac{1}{2}" or "2 1/2", or null (position unchanged).</summary>
    MathExpr? TryMixedNumber()
    {
        int saved = _pos;
        if (Peek.Kind == TokenKind.Frac)
        {
            var fraction = ParsePrimary();
            if (fraction is Binary { Op: '/', Left: Number n, Right: Number d } && n.Value.IsInteger && d.Value.IsInteger
                && n.Value.Sign > 0 && (n.Value - d.Value).Sign < 0)
                return fraction;
        }
        else if (IsInteger(Peek) && Peek.SpaceBefore && PeekAt(1) is { Kind: TokenKind.Symbol, Text: "/" } && IsInteger(PeekAt(2))
                 && PeekAt(3).Kind is TokenKind.End or TokenKind.Symbol && PeekAt(3).Text is not ("^" or "*" or "/" or "("))
        {
            var numerator = Rational.ParseDecimal(Peek.Text)!.Value;
            var denominator = Rational.ParseDecimal(PeekAt(2).Text)!.Value;
            if (numerator.Sign > 0 && (numerator - denominator).Sign < 0)
            {
                _pos += 3;
                return new Binary('/', new Number(numerator), new Number(denominator));
            }
        }
        _pos = saved;
        return null;
    }

    MathExpr ParseSign()
    {
        Enter();
        var value = ParseSignUnguarded();
        _depth--;
        return value;
    }

    MathExpr ParseSignUnguarded()
    {
        if (IsSymbol("-")) { _pos++; return new Negate(ParseSign()); }
        if (IsSymbol("+")) { _pos++; return ParseSign(); }
        if (IsSymbol("±")) { _pos++; return new Binary('±', new Number(0), ParseSign()); }
        return ParsePower();
    }

    MathExpr ParsePower()
    {
        var value = ParsePostfix();
        if (!IsSymbol("^")) return value;
        _pos++;
        return new Binary('^', value, ParseExponent());
    }

    // "x^2y" is (x^2)y, "2^-1" is 1/2, "2^3^2" is 2^9.
    MathExpr ParseExponent()
    {
        Enter();
        var value = IsSymbol("-") ? Negated() : IsSymbol("+") ? Skipped() : ParsePower();
        _depth--;
        return value;

        MathExpr Negated() { _pos++; return new Negate(ParseExponent()); }
        MathExpr Skipped() { _pos++; return ParseExponent(); }
    }

    MathExpr ParsePostfix()
    {
        var value = ParsePrimary();
        while (IsSymbol("!"))
        {
            _pos++;
            value = new Call("factorial", value);
        }
        if (IsSymbol("%"))
        {
            _pos++;
            value = new Percent(value);
        }
        return value;
    }

    MathExpr ParsePrimary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case TokenKind.Number:
                _pos++;
                if (IsSymbol("_") && IsInteger(token)) return ParseBase(token.Text);
                return new Number(Rational.ParseDecimal(token.Text) ?? throw Error($"bad number {token.Text}"));
            case TokenKind.Letter:
                _pos++;
                return new Variable(IsSymbol("_") ? token.Text + "_" + ParseSubscript() : token.Text);
            case TokenKind.Constant:
                _pos++;
                return new Constant(token.Text);
            case TokenKind.Function:
                _pos++;
                return ParseFunction(token.Text);
            case TokenKind.Frac:
            {
                _pos++;
                var numerator = ParseArgument();
                return new Binary('/', numerator, ParseArgument());
            }
            case TokenKind.Binom:
            {
                _pos++;
                var n = ParseArgument();
                return new Call("binom", new Bracketed('(', ')', [n, ParseArgument()]));
            }
            case TokenKind.Sqrt:
            {
                _pos++;
                if (!IsSymbol("[")) return new Call("sqrt", ParseArgument());
                _pos++;
                var degree = ParseSum();
                Expect("]");
                return new Root(degree, ParseArgument());
            }
            case TokenKind.SetOpen:
            {
                _pos++;
                var items = Peek.Kind == TokenKind.SetClose ? [] : ParseList();
                Expect(TokenKind.SetClose);
                return new SetOf(items);
            }
            case TokenKind.EmptySet:
                _pos++;
                return new SetOf([]);
            case TokenKind.MatrixBegin:
                return ParseMatrix();
            case TokenKind.Symbol when token.Text is "(" or "[" or "⟨":
                return ParseBracketed();
            case TokenKind.Symbol when token.Text == "{":
            {
                _pos++;
                var items = ParseList();
                Expect("}");
                return items.Count == 1 ? items[0] : new SetOf(items);
            }
            case TokenKind.Symbol when token.Text == "|":
            {
                _pos++;
                var inner = ParseSum();
                Expect("|");
                return new Call("abs", inner);
            }
            default:
                throw Error($"unexpected '{token.Text}'");
        }
    }

    MathExpr ParseBracketed()
    {
        char open = Peek.Text[0];
        _pos++;
        var items = ParseList();
        if (Peek.Kind != TokenKind.Symbol || Peek.Text is not (")" or "]" or "⟩")) throw Error("unclosed bracket");
        char close = Peek.Text[0];
        if ((open == '⟨') != (close == '⟩')) throw Error("mismatched brackets");
        _pos++;
        // "(x+1)" is grouping; "(1, 2)", "[0, 1)" and "[5]" are tuples and intervals.
        return items.Count == 1 && open == '(' && close == ')' ? items[0] : new Bracketed(open, close, items);
    }

    MathExpr ParseFunction(string name)
    {
        MathExpr? logBase = null, power = null;
        if (name == "log" && IsSymbol("_"))
        {
            _pos++;
            logBase = ParseArgument();
        }
        if (IsSymbol("^"))
        {
            _pos++;
            power = ParseExponent();
        }
        var argument = IsSymbol("(") ? ParseBracketed() : IsSymbol("{") ? ParseArgument() : ParsePower();
        // \tan^{-1} x is arctan x, not 1/tan x.
        if (power is Negate { Operand: Number { Value: { IsInteger: true } one } } && one.Numerator.IsOne && name is "sin" or "cos" or "tan")
            return new Call("arc" + name, argument);
        MathExpr call = logBase is null
            ? new Call(name, argument)
            : new Binary('/', new Call("ln", argument), new Call("ln", logBase));
        return power is null ? call : new Binary('^', call, power);
    }

    /// <summary>The argument of \frac or \sqrt: a {group} or a single atom.</summary>
    MathExpr ParseArgument()
    {
        if (!IsSymbol("{")) return ParsePrimary();
        _pos++;
        var value = ParseSum();
        Expect("}");
        return value;
    }

    string ParseSubscript()
    {
        _pos++; // '_'
        if (Peek.Kind is TokenKind.Number or TokenKind.Letter) return _tokens[_pos++].Text;
        Expect("{");
        var text = "";
        while (!IsSymbol("}"))
        {
            if (Peek.Kind is not (TokenKind.Number or TokenKind.Letter)) throw Error("bad subscript");
            text += _tokens[_pos++].Text;
        }
        _pos++;
        return text;
    }

    /// <summary>"1011_2", "4210_{5}": digits that must all be below the base (2 to 36).</summary>
    MathExpr ParseBase(string digits)
    {
        string subscript = ParseSubscript();
        if (!int.TryParse(subscript, out int numberBase) || numberBase < 2 || numberBase > 36) throw Error($"bad base {subscript}");
        if (digits.Any(d => d - '0' >= numberBase)) throw Error($"{digits} is not a base-{numberBase} numeral");
        string trimmed = digits.TrimStart('0');
        return new BasedNumber(trimmed.Length == 0 ? "0" : trimmed, numberBase);
    }

    MathExpr ParseMatrix()
    {
        _pos++; // \begin{..matrix}
        var rows = new List<MathExpr>();
        var cells = new List<MathExpr>();
        while (true)
        {
            cells.Add(ParseSum());
            if (IsSymbol("&")) { _pos++; continue; }
            rows.Add(new Bracketed('r', 'r', cells));
            cells = [];
            if (Peek.Kind == TokenKind.RowSep)
            {
                _pos++;
                if (Peek.Kind == TokenKind.MatrixEnd) break; // trailing "\\"
                continue;
            }
            if (Peek.Kind == TokenKind.MatrixEnd) break;
            throw Error("bad matrix");
        }
        _pos++;
        return new Bracketed('M', 'M', rows);
    }
}
