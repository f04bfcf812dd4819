using System.Text.Json.Nodes;
using R1Sharp.Tokenizers.Jinja;

namespace R1Sharp.Tests.Tokenizers.Jinja;

/// <summary>
/// One case per supported Jinja construct (whitespace control, loops, namespace, macros, filters, tests, string and
/// dict methods, Python printing, errors), with the text Python's jinja2 renders when configured as transformers
/// configures it; expected/jinja-constructs.json comes from gen-constructs.py (in this folder).
/// </summary>
public class JinjaConstructTests
{
    public sealed record ConstructCase(string Name, string Template, JsonObject Variables, string? Rendered, string? Error);

    static readonly Lazy<Dictionary<string, ConstructCase>> Cases = new(() =>
        TokenizerTestData.Cases<ConstructCase>("jinja-constructs.json").ToDictionary(c => c.Name));

    public static TheoryData<string> Names() => [.. Cases.Value.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void RendersAsJinja2Does(string name)
    {
        ConstructCase c = Cases.Value[name];
        if (c.Error is null) Assert.Equal(c.Rendered, JinjaTestKit.Render(c.Template, c.Variables));
        else
        {
            // jinja2 failed on this one; so must we, with an R1Error that says where.
            var error = Assert.Throws<R1Error>(() => JinjaTestKit.Render(c.Template, c.Variables));
            Assert.StartsWith("chat template line ", error.Message);
        }
    }

    [Fact]
    public void EveryConstructIsCovered() => Assert.True(Cases.Value.Count >= 110, $"only {Cases.Value.Count} construct cases");
}

/// <summary>Renders with variables given as JSON (as a chat request carries them) and a fixed clock.</summary>
static class JinjaTestKit
{
    public static readonly DateTimeOffset FixedNow = new(2025, 7, 10, 12, 0, 0, TimeSpan.Zero);

    public static string Render(string template, JsonObject? variables = null, JinjaLimits? limits = null) =>
        JinjaTemplate.Parse(template, limits).Render(
            (variables ?? []).ToDictionary(kv => kv.Key, kv => Py.FromJson(kv.Value)), new FixedClock(FixedNow), limits);

    public sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
