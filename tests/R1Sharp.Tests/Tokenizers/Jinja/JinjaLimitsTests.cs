using System.Diagnostics;
using System.Text.Json.Nodes;
using R1Sharp.Tokenizers;
using R1Sharp.Tokenizers.Jinja;

namespace R1Sharp.Tests.Tokenizers.Jinja;

/// <summary>
/// Hostile and unsupported templates fail fast with an R1Error that names the problem and its place: no hang, no
/// huge allocation, no stack overflow, no file access.
/// </summary>
public class JinjaLimitsTests
{
    static R1Error Fails(string template, JinjaLimits? limits = null)
    {
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<R1Error>(() => JinjaTestKit.Render(template, limits: limits));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed} to fail");
        return error;
    }

    [Fact]
    public void EndlessLoopsStopAtTheIterationLimit()
    {
        var error = Fails("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}");
        Assert.Contains("loop iterations (limit)", error.Message);
        Assert.Contains("line 1, column", error.Message);
    }

    [Fact]
    public void HugeRangesAreRefusedBeforeTheyAreBuilt()
    {
        Assert.Contains("more than the limit", Fails("{{ range(10**18) | length }}").Message);
    }

    [Fact]
    public void EndlessRecursionStopsAtTheDepthLimit()
    {
        var error = Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Contains("macro calls nest deeper than 100", error.Message);
    }

    [Fact]
    public void DoublingAStringStopsAtTheOutputLimit()
    {
        var error = Fails("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}");
        Assert.Contains("characters", error.Message);
        Assert.Contains("limit", error.Message);
    }

    [Fact]
    public void HugeStringsAreRefusedBeforeTheyAreBuilt()
    {
        Assert.Contains("would build a string", Fails("{{ 'x' * 10**15 }}").Message);
        Assert.Contains("would build a string", Fails("{{ ('x' * 1000000) | replace('x', 'yyyyyyyyyy') }}").Message);
        Assert.Contains("would build a list", Fails("{{ ([1] * 100000) * 100000 }}").Message);
    }

    [Fact]
    public void LongOutputStopsAtTheOutputLimit()
    {
        var error = Fails("{% for i in range(1000) %}{{ 'abcdefghij' * 100 }}{% endfor %}", new JinjaLimits(MaxOutputChars: 100_000));
        Assert.Contains("output exceeds 100,000 characters", error.Message);
    }

    [Fact]
    public void StepLimitBoundsWorkPerIteration()
    {
        var error = Fails("{% for i in range(100000) %}{{ i + 1 + 1 + 1 + 1 + 1 }}{% endfor %}", new JinjaLimits(MaxSteps: 100_000));
        Assert.Contains("evaluation steps", error.Message);
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    [InlineData("llama3_1")]
    public void ALongConversationStaysFarBelowTheStepLimit(string folder)
    {
        // Honest use must not come near the limits: a real template over 1,000 messages (with earlier reasoning) takes
        // fewer than 100,000 evaluation steps, a fiftieth of the default 5,000,000.
        var messages = new JsonArray();
        for (int i = 0; i < 500; i++)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = $"question {i}" });
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = $"<think>\nthinking {i}\n</think>\n\nanswer {i}" });
        }
        string template = TokenizerConfig.Load(TokenizerTestData.PathOf(folder, "tokenizer_config.json")).ChatTemplateText!;
        var variables = new JsonObject { ["messages"] = messages, ["add_generation_prompt"] = true, ["tools"] = null, ["bos_token"] = "<s>" };
        string text = JinjaTestKit.Render(template, variables, new JinjaLimits(MaxSteps: 100_000));
        Assert.Contains("answer 499", text);
    }

    [Fact]
    public void DeepNestingIsRefusedWithoutOverflowingTheStack()
    {
        Assert.Contains("nests deeper than", Fails("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}").Message);
        Assert.Contains("nests deeper than", Fails(string.Concat(Enumerable.Repeat("{% if true %}", 5000))).Message);
        Assert.Contains("nests deeper than", Fails("{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "1 }}").Message);
    }

    [Fact]
    public void OversizedTemplatesAreRefused()
    {
        Assert.Contains("more than the limit", Fails(new string('x', 2_000_000)).Message);
    }

    [Theory]
    [InlineData("{% include 'other.jinja' %}", "'{% include %}' is not supported", "line 1, column 4")]
    [InlineData("x\n{% import 'macros' as m %}", "'{% import %}' is not supported", "line 2, column 4")]
    [InlineData("{% extends 'base' %}", "'{% extends %}' is not supported", "line 1")]
    [InlineData("{% block body %}{% endblock %}", "'{% block %}' is not supported", "line 1")]
    [InlineData("{% for x in xs recursive %}{% endfor %}", "recursive for loops are not supported", "line 1")]
    [InlineData("{{ f(*args) }}", "'*args' and '**kwargs' in calls are not supported", "line 1")]
    [InlineData("{% frobnicate %}", "unknown statement '{% frobnicate %}'", "line 1")]
    [InlineData("{{ x | nosuch }}", "unknown filter 'nosuch'", "line 1, column 8")]
    [InlineData("{{ 1 is nosuch }}", "unknown test 'nosuch'", "line 1")]
    [InlineData("{{ 'a' | tojson(bad=1) }}", "unexpected argument 'bad'", "line 1")]
    [InlineData("{{ strftime_now('%Q') }}", "strftime directive '%Q' is not supported", "line 1")]
    [InlineData("{% if x %}\n  open", "missing '{% endif %}'", "line 2")]
    [InlineData("{{ 'unterminated }}", "string literal is never closed", "line 1, column 4")]
    [InlineData("{{ x ]}}", "unexpected ']'", "line 1")]
    [InlineData("{# never closed", "comment '{#' is never closed", "line 1, column 1")]
    [InlineData("{{ raise_exception('Only user and assistant roles are supported!') }}",
        "the template raised an error: Only user and assistant roles are supported!", "line 1, column 19")]
    public void UnsupportedAndBrokenTemplatesNameTheConstructAndPlace(string template, string message, string place)
    {
        var error = Fails(template);
        Assert.Contains(message, error.Message);
        Assert.Contains(place, error.Message);
    }

    [Fact]
    public void TemplatesCannotChangeTheirInputs()
    {
        // transformers renders in jinja2's ImmutableSandboxedEnvironment: lists and dicts are read-only.
        Assert.Contains("may not do", Fails("{{ messages.append(1) }}".Replace("messages", "[1]")).Message);
        Assert.Contains("may not do", Fails("{% set d = {'a': 1} %}{{ d.pop('a') }}").Message);
    }
}
