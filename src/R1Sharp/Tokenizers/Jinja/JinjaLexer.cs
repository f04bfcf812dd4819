using System.Globalization;
using System.Text;

namespace R1Sharp.Tokenizers.Jinja;

public enum TokenKind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

/// <summary>One lexer token; <see cref="Value"/> holds the parsed literal of strings and numbers.</summary>
public readonly record struct JinjaToken(TokenKind Kind, string Text, SourcePos Pos, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public bool IsName(string name) => Is(TokenKind.Name, name);
    public bool IsOperator(string op) => Is(TokenKind.Operator, op);
}

public readonly record struct SourcePos(int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";
}

/// <summary>
/// Splits a template into text and tag tokens with Jinja2's whitespace rules as transformers configures them
/// (trim_blocks and lstrip_blocks on, keep_trailing_newline off):
/// <list type="bullet">
/// <item>"\r\n" and "\r" become "\n", and one newline at the very end of the template is dropped;</item>
/// <item>"{%-", "{{-", "{#-" strip all whitespace before the tag, "-%}", "-}}", "-#}" all whitespace after it;</item>
/// <item>trim_blocks: the first newline after "%}" or "#}" is removed ("+%}" keeps it);</item>
/// <item>lstrip_blocks: spaces and tabs between a line start and "{%" or "{#" are removed ("{%+" keeps them).</item>
/// </list>
/// Inside a tag, "}}" and "%}" end it only when brackets are balanced, so "{{ {'a': {'b': 1}} }}" works.
/// </summary>
public static class JinjaLexer
{
    static readonly string[] Operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}",
        ",", ".", ":", "|", "=", "<", ">", ";"];

    public static List<JinjaToken> Tokenize(string template)
    {
        string source = template.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer.Tokens;
    }

    /// <summary>Python's str.isspace for the characters templates contain.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    sealed class Lexer(string source)
    {
        public readonly List<JinjaToken> Tokens = [];
        int pos;
        bool lineStarting = true; // the text before the next tag starts a line (template start, or after a trimmed newline)

        List<int>? lineStarts;

        SourcePos PosAt(int index)
        {
            if (lineStarts is null)
            {
                lineStarts = [0];
                for (int i = source.IndexOf('\n'); i >= 0; i = source.IndexOf('\n', i + 1)) lineStarts.Add(i + 1);
            }
            int line = lineStarts.BinarySearch(index);
            if (line < 0) line = ~line - 1;
            return new SourcePos(line + 1, index - lineStarts[line] + 1);
        }

        JinjaException Error(int index, string message) => new(PosAt(index), message);

        public void Run()
        {
            while (pos < source.Length)
            {
                int tag = NextTagStart(pos);
                if (tag < 0)
                {
                    AddData(source[pos..], pos);
                    break;
                }
                char kind = source[tag + 1];
                char sign = tag + 2 < source.Length && source[tag + 2] is '-' or '+' ? source[tag + 2] : '\0';
                string text = source[pos..tag];
                if (sign == '-') text = text.TrimEnd();
                else if (sign != '+' && kind != '{') text = LstripBlock(text);
                AddData(text, pos);
                int inside = tag + 2 + (sign == '\0' ? 0 : 1);
                if (kind == '#') LexComment(tag, inside);
                else if (kind == '%' && IsRaw(inside, out int rawBodyStart)) LexRaw(tag, rawBodyStart);
                else LexTag(tag, inside, kind == '{' ? TokenKind.VariableBegin : TokenKind.BlockBegin);
            }
        }

        int NextTagStart(int from)
        {
            for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
                if (source[i + 1] is '{' or '%' or '#') return i;
            return -1;
        }

        string LstripBlock(string text)
        {
            int lineStart = text.LastIndexOf('\n') + 1;
            if (lineStart == 0 && !lineStarting) return text;
            for (int i = lineStart; i < text.Length; i++)
                if (text[i] is not (' ' or '\t')) return text;
            return text[..lineStart];
        }

        void AddData(string text, int at)
        {
            if (text.Length > 0) Tokens.Add(new JinjaToken(TokenKind.Data, text, PosAt(at)));
        }

        /// <summary>After a tag's closing marker: "-" strips all whitespace, otherwise trim_blocks drops one newline.</summary>
        void AfterTagEnd(int end, char sign, bool trimBlocks)
        {
            pos = end;
            if (sign == '-')
                while (pos < source.Length && IsSpace(source[pos])) pos++;
            else if (sign != '+' && trimBlocks && pos < source.Length && source[pos] == '\n') pos++;
            lineStarting = pos > 0 && source[pos - 1] == '\n';
        }

        void LexComment(int tag, int inside)
        {
            int close = source.IndexOf("#}", inside, StringComparison.Ordinal);
            if (close < 0) throw Error(tag, "comment '{#' is never closed with '#}'");
            char sign = close > inside && source[close - 1] is '-' or '+' ? source[close - 1] : '\0';
            AfterTagEnd(close + 2, sign, trimBlocks: true);
        }

        bool IsRaw(int inside, out int bodyStart)
        {
            bodyStart = 0;
            int i = SkipSpace(inside);
            if (string.CompareOrdinal(source, i, "raw", 0, 3) != 0 || (i + 3 < source.Length && IsNameChar(source[i + 3]))) return false;
            i = SkipSpace(i + 3);
            char sign = source.Length > i && source[i] is '-' or '+' ? source[i] : '\0';
            if (sign != '\0') i++;
            if (string.CompareOrdinal(source, i, "%}", 0, 2) != 0) return false;
            AfterTagEnd(i + 2, sign, trimBlocks: true);
            bodyStart = pos;
            return true;
        }

        void LexRaw(int tag, int bodyStart)
        {
            for (int i = source.IndexOf("{%", bodyStart, StringComparison.Ordinal); i >= 0; i = source.IndexOf("{%", i + 2, StringComparison.Ordinal))
            {
                int j = i + 2;
                char open = j < source.Length && source[j] is '-' or '+' ? source[j] : '\0';
                if (open != '\0') j++;
                j = SkipSpace(j);
                if (string.CompareOrdinal(source, j, "endraw", 0, 6) != 0) continue;
                j = SkipSpace(j + 6);
                char close = j < source.Length && source[j] is '-' or '+' ? source[j] : '\0';
                if (close != '\0') j++;
                if (string.CompareOrdinal(source, j, "%}", 0, 2) != 0) continue;
                string body = source[bodyStart..i];
                AddData(open == '-' ? body.TrimEnd() : body, bodyStart);
                AfterTagEnd(j + 2, close, trimBlocks: true);
                return;
            }
            throw Error(tag, "'{% raw %}' is never closed with '{% endraw %}'");
        }

        int SkipSpace(int i)
        {
            while (i < source.Length && IsSpace(source[i])) i++;
            return i;
        }

        static bool IsNameChar(char c) => char.IsLetterOrDigit(c) || c == '_';

        void LexTag(int tag, int inside, TokenKind begin)
        {
            bool variable = begin == TokenKind.VariableBegin;
            Tokens.Add(new JinjaToken(begin, variable ? "{{" : "{%", PosAt(tag)));
            var brackets = new Stack<char>();
            int i = inside;
            while (true)
            {
                i = SkipSpace(i);
                if (i >= source.Length) throw Error(tag, variable ? "'{{' is never closed with '}}'" : "'{%' is never closed with '%}'");
                if (brackets.Count == 0 && TagEnd(i, variable, out char sign, out int end))
                {
                    Tokens.Add(new JinjaToken(variable ? TokenKind.VariableEnd : TokenKind.BlockEnd, variable ? "}}" : "%}", PosAt(i)));
                    AfterTagEnd(end, sign, trimBlocks: !variable);
                    return;
                }
                i = LexExpressionToken(i, brackets);
            }
        }

        bool TagEnd(int i, bool variable, out char sign, out int end)
        {
            string close = variable ? "}}" : "%}";
            sign = source[i] is '-' or '+' ? source[i] : '\0';
            if (sign == '+' && variable) sign = '\0';
            int j = sign == '\0' ? i : i + 1;
            end = j + 2;
            return string.CompareOrdinal(source, j, close, 0, 2) == 0;
        }

        int LexExpressionToken(int i, Stack<char> brackets)
        {
            SourcePos at = PosAt(i);
            char c = source[i];
            if (char.IsLetter(c) || c == '_')
            {
                int end = i;
                while (end < source.Length && IsNameChar(source[end])) end++;
                Tokens.Add(new JinjaToken(TokenKind.Name, source[i..end], at));
                return end;
            }
            if (char.IsAsciiDigit(c)) return LexNumber(i, at);
            if (c is '\'' or '"') return LexString(i, at);
            foreach (string op in Operators)
            {
                if (string.CompareOrdinal(source, i, op, 0, op.Length) != 0) continue;
                if (op is "(" or "[" or "{") brackets.Push(op[0]);
                else if (op is ")" or "]" or "}")
                {
                    char expected = op switch { ")" => '(', "]" => '[', _ => '{' };
                    if (brackets.Count == 0 || brackets.Pop() != expected) throw new JinjaException(at, $"unexpected '{op}'");
                }
                Tokens.Add(new JinjaToken(TokenKind.Operator, op, at));
                return i + op.Length;
            }
            throw new JinjaException(at, $"unexpected character '{c}'");
        }

        int LexNumber(int i, SourcePos at)
        {
            int end = i;
            while (end < source.Length && (char.IsAsciiDigit(source[end]) || source[end] == '_')) end++;
            bool isFloat = false;
            if (end + 1 < source.Length && source[end] == '.' && char.IsAsciiDigit(source[end + 1]))
            {
                isFloat = true;
                end++;
                while (end < source.Length && (char.IsAsciiDigit(source[end]) || source[end] == '_')) end++;
            }
            if (end < source.Length && source[end] is 'e' or 'E')
            {
                int e = end + 1;
                if (e < source.Length && source[e] is '+' or '-') e++;
                if (e < source.Length && char.IsAsciiDigit(source[e]))
                {
                    isFloat = true;
                    end = e;
                    while (end < source.Length && char.IsAsciiDigit(source[end])) end++;
                }
            }
            string text = source[i..end].Replace("_", "");
            if (isFloat)
                Tokens.Add(new JinjaToken(TokenKind.Float, text, at, double.Parse(text, CultureInfo.InvariantCulture)));
            else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                Tokens.Add(new JinjaToken(TokenKind.Integer, text, at, value));
            else throw new JinjaException(at, $"integer literal {text} is too large");
            return end;
        }

        /// <summary>A quoted string with Python's escapes (\n, \t, \\, \', \", \xNN, \uNNNN, \UNNNNNNNN, octal); unknown
        /// escapes keep their backslash, as Python's "unicode-escape" codec that Jinja2 uses does.</summary>
        int LexString(int i, SourcePos at)
        {
            char quote = source[i];
            var value = new StringBuilder();
            int j = i + 1;
            while (true)
            {
                if (j >= source.Length) throw new JinjaException(at, "string literal is never closed");
                char c = source[j];
                if (c == quote) break;
                if (c != '\\' || j + 1 >= source.Length)
                {
                    value.Append(c);
                    j++;
                    continue;
                }
                char e = source[j + 1];
                j += 2;
                switch (e)
                {
                    case 'n': value.Append('\n'); break;
                    case 't': value.Append('\t'); break;
                    case 'r': value.Append('\r'); break;
                    case '\\': value.Append('\\'); break;
                    case '\'': value.Append('\''); break;
                    case '"': value.Append('"'); break;
                    case 'a': value.Append('\a'); break;
                    case 'b': value.Append('\b'); break;
                    case 'f': value.Append('\f'); break;
                    case 'v': value.Append('\v'); break;
                    case '\n': break; // a backslash-newline continues the line
                    case 'x': j = AppendHex(value, j, 2, at); break;
                    case 'u': j = AppendHex(value, j, 4, at); break;
                    case 'U': j = AppendHex(value, j, 8, at); break;
                    case >= '0' and <= '7':
                        int code = e - '0', digits = 1;
                        while (digits < 3 && j < source.Length && source[j] is >= '0' and <= '7') { code = code * 8 + source[j++] - '0'; digits++; }
                        value.Append((char)code);
                        break;
                    default: value.Append('\\').Append(e); break;
                }
            }
            Tokens.Add(new JinjaToken(TokenKind.String, source[i..(j + 1)], at, value.ToString()));
            return j + 1;
        }

        int AppendHex(StringBuilder value, int j, int digits, SourcePos at)
        {
            if (j + digits > source.Length || !int.TryParse(source.AsSpan(j, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
                || code > 0x10FFFF || code is >= 0xD800 and <= 0xDFFF && digits == 8)
                throw new JinjaException(at, $"bad \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in string literal");
            value.Append(char.ConvertFromUtf32(code is >= 0xD800 and <= 0xDFFF ? 0xFFFD : code));
            return j + digits;
        }
    }
}

/// <summary>A template error at a place in the template; <see cref="JinjaTemplate"/> turns it into an <see cref="R1Error"/>.</summary>
public sealed class JinjaException(SourcePos pos, string message) : Exception(message)
{
    public SourcePos Pos { get; } = pos;
}
