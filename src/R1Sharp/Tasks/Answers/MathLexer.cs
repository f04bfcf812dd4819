namespace R1Sharp.Tasks.Answers;

public enum TokenKind { Number, Letter, Word, Function, Constant, Symbol, SetOpen, SetClose, Frac, Binom, Sqrt, Cup, EmptySet, MatrixBegin, MatrixEnd, RowSep, End }

/// <param name="SpaceBefore">Whitespace preceded the token: "2 1/2" is a mixed number, "21/2" is not.</param>
public readonly record struct Token(TokenKind Kind, string Text, bool SpaceBefore = false);

/// <summary>
/// Splits an answer written in LaTeX or plain text into tokens. Anything it doesn't know (an unknown command,
/// a word, a stray character) makes the answer unparseable rather than silently dropped: an answer that
/// can't be read can't be right.
/// </summary>
public static class MathLexer
{
    static readonly HashSet<string> FunctionNames =
        ["sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "ln", "log", "exp"];

    static readonly HashSet<string> Ignored =
        ["left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "middle", "displaystyle", "textstyle",
         "quad", "qquad", "circ", "degree", "limits"];

    static readonly string[] Greek =
        ["alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
         "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"];

    // Declared after the name sets above: static fields initialise in textual order.
    static readonly Dictionary<string, Token> Commands = BuildCommands();

    static Dictionary<string, Token> BuildCommands()
    {
        var c = new Dictionary<string, Token>(StringComparer.Ordinal);
        foreach (var name in new[] { "frac", "dfrac", "tfrac", "cfrac" }) c[name] = new(TokenKind.Frac, "frac");
        foreach (var name in new[] { "binom", "dbinom", "tbinom" }) c[name] = new(TokenKind.Binom, "binom");
        c["sqrt"] = new(TokenKind.Sqrt, "sqrt");
        c["pi"] = new(TokenKind.Constant, "pi");
        c["infty"] = c["infin"] = new(TokenKind.Constant, "inf");
        foreach (var name in new[] { "cdot", "times", "ast" }) c[name] = new(TokenKind.Symbol, "*");
        c["div"] = new(TokenKind.Symbol, "/");
        c["pm"] = c["mp"] = new(TokenKind.Symbol, "±");
        foreach (var name in new[] { "le", "leq", "leqslant" }) c[name] = new(TokenKind.Symbol, "≤");
        foreach (var name in new[] { "ge", "geq", "geqslant" }) c[name] = new(TokenKind.Symbol, "≥");
        c["ne"] = c["neq"] = new(TokenKind.Symbol, "≠");
        c["lt"] = new(TokenKind.Symbol, "<");
        c["gt"] = new(TokenKind.Symbol, ">");
        c["in"] = new(TokenKind.Symbol, "∈");
        c["cup"] = new(TokenKind.Cup, "∪");
        c["emptyset"] = c["varnothing"] = new(TokenKind.EmptySet, "∅");
        c["langle"] = new(TokenKind.Symbol, "⟨");
        c["rangle"] = new(TokenKind.Symbol, "⟩");
        c["lbrace"] = new(TokenKind.SetOpen, "{");
        c["rbrace"] = new(TokenKind.SetClose, "}");
        c["lvert"] = c["rvert"] = c["vert"] = new(TokenKind.Symbol, "|");
        c["%"] = new(TokenKind.Symbol, "%");
        c["{"] = new(TokenKind.SetOpen, "{");
        c["}"] = new(TokenKind.SetClose, "}");
        c["\\"] = new(TokenKind.RowSep, "\\\\");
        foreach (var name in FunctionNames) c[name] = new(TokenKind.Function, name);
        foreach (var name in Greek) c[name] = new(TokenKind.Letter, name);
        return c;
    }

    /// <summary>Tokens of <paramref name="text"/>, ending with an End token; throws FormatException on anything unknown.</summary>
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        bool space = false;
        while (i < text.Length)
        {
            char ch = text[i];
            if (char.IsWhiteSpace(ch)) { space = true; i++; continue; }
            if (ch == '\\') i = LexCommand(text, i, tokens, space);
            else if (char.IsAsciiDigit(ch) || (ch == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
                i = LexNumber(text, i, tokens, space);
            else if (char.IsAsciiLetter(ch)) i = LexLetters(text, i, tokens, space);
            else
            {
                var token = ch switch
                {
                    '+' or '-' or '*' or '/' or '^' or '_' or '!' or '=' or '<' or '>' or ',' or '|' or '&' or '%'
                        or '(' or ')' or '[' or ']' or '{' or '}' or '≤' or '≥' or '≠' or '±' or '∈' or '⟨' or '⟩'
                        => new Token(TokenKind.Symbol, ch.ToString()),
                    '−' or '–' => new Token(TokenKind.Symbol, "-"),
                    '×' or '·' or '⋅' or '∙' => new Token(TokenKind.Symbol, "*"),
                    '÷' => new Token(TokenKind.Symbol, "/"),
                    '√' => new Token(TokenKind.Sqrt, "sqrt"),
                    'π' => new Token(TokenKind.Constant, "pi"),
                    '∞' => new Token(TokenKind.Constant, "inf"),
                    '∪' => new Token(TokenKind.Cup, "∪"),
                    '∅' => new Token(TokenKind.EmptySet, "∅"),
                    >= 'α' and <= 'ω' => new Token(TokenKind.Letter, ch.ToString()),
                    _ => throw new FormatException($"unexpected character '{ch}'"),
                };
                tokens.Add(token with { SpaceBefore = space });
                i++;
            }
            space = false;
        }
        tokens.Add(new Token(TokenKind.End, ""));
        return tokens;
    }

    static int LexCommand(string text, int i, List<Token> tokens, bool space)
    {
        int start = i + 1;
        if (start >= text.Length) throw new FormatException("dangling backslash");
        int end = start;
        if (char.IsAsciiLetter(text[start]))
            while (end < text.Length && char.IsAsciiLetter(text[end])) end++;
        else end = start + 1;
        string name = text[start..end];
        if (name is "," or ";" or ":" or "!" or " " || Ignored.Contains(name)) return end;
        if (name is "begin" or "end")
        {
            int close = text.IndexOf('}', end);
            string environment = close > end && text[end] == '{' ? text[(end + 1)..close] : "";
            if (!environment.EndsWith("matrix", StringComparison.Ordinal)) throw new FormatException($"unsupported environment '{environment}'");
            tokens.Add(new Token(name == "begin" ? TokenKind.MatrixBegin : TokenKind.MatrixEnd, environment, space));
            return close + 1;
        }
        if (!Commands.TryGetValue(name, out var token)) throw new FormatException($"unknown command \\{name}");
        tokens.Add(token with { SpaceBefore = space });
        return end;
    }

    static int LexNumber(string text, int i, List<Token> tokens, bool space)
    {
        int end = i;
        while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        if (end < text.Length && text[end] == '.')
        {
            end++;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        }
        // Scientific notation "1.5e3" / "2E-4", but not "2e" (2 times Euler's e).
        if (end < text.Length && text[end] is 'e' or 'E')
        {
            int exponent = end + 1;
            if (exponent < text.Length && text[exponent] is '+' or '-') exponent++;
            if (exponent < text.Length && char.IsAsciiDigit(text[exponent]))
            {
                end = exponent;
                while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            }
        }
        tokens.Add(new Token(TokenKind.Number, text[i..end], space));
        return end;
    }

    static int LexLetters(string text, int i, List<Token> tokens, bool space)
    {
        int end = i;
        while (end < text.Length && char.IsAsciiLetter(text[end])) end++;
        string run = text[i..end];
        if (FunctionNames.Contains(run)) tokens.Add(new Token(TokenKind.Function, run, space));
        else if (run == "sqrt") tokens.Add(new Token(TokenKind.Sqrt, run, space));
        else if (run == "pi") tokens.Add(new Token(TokenKind.Constant, "pi", space));
        else if (run is "inf" or "infty" or "infinity") tokens.Add(new Token(TokenKind.Constant, "inf", space));
        // A run of three or more letters is a word ("odd", "Tuesday"); such answers compare as text.
        else if (run.Length >= 3) tokens.Add(new Token(TokenKind.Word, run, space));
        else
            for (int k = 0; k < run.Length; k++)
                // A lone "e" in an answer is Euler's number (e^2, \ln e), as in MATH.
                tokens.Add(run[k] == 'e' ? new Token(TokenKind.Constant, "e", k == 0 && space) : new Token(TokenKind.Letter, run[k].ToString(), k == 0 && space));
        return end;
    }
}
