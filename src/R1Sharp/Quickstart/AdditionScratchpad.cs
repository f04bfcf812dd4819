using System.Text;
using System.Text.RegularExpressions;

namespace R1Sharp.Quickstart;

/// <summary>
/// The quickstart's worked solution: column addition from the right, one short "x+y(+1)=s:r" per column, where r is
/// the result so far, so the final answer is a copy of the last r rather than the column digits reversed (which a
/// sub-million-parameter model gets wrong past three columns). A "slip" changes one column's sum and carries the
/// error on consistently, like a student's mistake: the answer follows from the (wrong) work. A "forgotten carry"
/// is the classic slip of adding in one's head: the column that should take a carry does not, and the sum goes on
/// from there; the quickstart's direct answers are made this way (see <see cref="QuickstartConfig.DirectForgetCarryShare"/>).
/// </summary>
public static partial class AdditionScratchpad
{
    [GeneratedRegex(@"(\d+)\s*\+\s*(\d+)")] private static partial Regex Sum();

    /// <summary>The two addends of a prompt such as "What is 457+86?".</summary>
    public static (long A, long B) Parse(string question)
    {
        var m = Sum().Match(question);
        if (!m.Success) throw new R1Error($"quickstart: no addition in '{question}'");
        return (long.Parse(m.Groups[1].Value), long.Parse(m.Groups[2].Value));
    }

    /// <summary>
    /// (worked columns, answer read off them). <paramref name="slipColumn"/> and <paramref name="slip"/> inject an error;
    /// <paramref name="forgetsCarryInto"/> says, for each column that should take a carry, whether it is forgotten.
    /// </summary>
    public static (string Work, string Answer) Solve(long a, long b, int slipColumn = -1, int slip = 0, Func<int, bool>? forgetsCarryInto = null)
    {
        string x = a.ToString(), y = b.ToString();
        int columns = Math.Max(x.Length, y.Length);
        var work = new StringBuilder();
        var digits = new StringBuilder();
        int carry = 0;
        for (int i = 0; i < columns; i++)
        {
            int dx = i < x.Length ? x[^(i + 1)] - '0' : 0, dy = i < y.Length ? y[^(i + 1)] - '0' : 0;
            if (carry > 0 && forgetsCarryInto is not null && forgetsCarryInto(i)) carry = 0;
            int sum = dx + dy + carry;
            if (i == slipColumn) sum = Math.Max(0, sum + slip);
            if (i > 0) work.Append(' ');
            work.Append(dx).Append('+').Append(dy);
            if (carry > 0) work.Append("+1");
            work.Append('=').Append(sum);
            if (i == columns - 1) digits.Insert(0, sum);
            else digits.Insert(0, sum % 10);
            work.Append(':').Append(digits);
            carry = sum >= 10 ? 1 : 0;
        }
        return (work.ToString(), digits.ToString().TrimStart('0') is { Length: > 0 } s ? s : "0");
    }
}
