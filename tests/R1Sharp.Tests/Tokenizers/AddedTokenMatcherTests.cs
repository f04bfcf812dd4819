using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class AddedTokenMatcherTests
{
    [Fact]
    public void LeftmostThenLongestMatchWins()
    {
        var matcher = new AddedTokenMatcher([new AddedToken(1, "<a>", true), new AddedToken(2, "<a><b>", true), new AddedToken(3, "b>", true)]);
        var segments = matcher.Split("x<a><b>y<a>b>").Select(s => s.Token?.Id.ToString() ?? "x<a><b>y<a>b>".Substring(s.Start, s.Length));
        Assert.Equal(["x", "2", "y", "1", "3"], segments);
    }

    [Fact]
    public void PrefixOfATokenIsPlainText()
    {
        var matcher = new AddedTokenMatcher([new AddedToken(7, "</think>", false)]);
        var segment = Assert.Single(matcher.Split("a </thin k>"));
        Assert.Null(segment.Token);
    }
}
