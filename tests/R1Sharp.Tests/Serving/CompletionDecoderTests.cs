using R1Sharp.Serving;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Serving;

public class CompletionDecoderTests
{
    static readonly ByteTokenizer Bytes = new();

    /// <summary>Feeds the text's tokens one by one and joins what comes out, as a streaming client would.</summary>
    static (string Reasoning, string Content, List<string> Deltas, CompletionDecoder Decoder) Stream(string completion, bool opensThink = true, params string[] stops)
    {
        var decoder = new CompletionDecoder(Bytes, opensThink, stops);
        string reasoning = "", content = "";
        var deltas = new List<string>();
        foreach (int id in Bytes.Encode(completion))
        {
            var (r, c) = decoder.Add(id);
            reasoning += r;
            content += c;
            deltas.Add(r + c);
            if (decoder.Stopped) break;
        }
        var (fr, fc) = decoder.Finish();
        return (reasoning + fr, content + fc, deltas, decoder);
    }

    [Fact]
    public void A_character_split_across_byte_tokens_comes_out_whole()
    {
        var (reasoning, content, deltas, _) = Stream("Ωmega → 😀</think>done ✓");
        Assert.Equal("Ωmega → 😀", reasoning);
        Assert.Equal("done ✓", content);
        Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));
    }

    [Fact]
    public void The_split_matches_the_whole_text_parser_and_counts_reasoning_tokens()
    {
        const string completion = "let me see</think>42<｜end▁of▁sentence｜>";
        var (reasoning, content, _, decoder) = Stream(completion);
        Assert.Equal(ReasoningParser.Split("let me see</think>42", thinkOpenedByTemplate: true), (reasoning, content));
        Assert.Equal("let me see".Length + 1, decoder.ReasoningTokens); // the text and "</think>"; EOS is not text
        Assert.Equal(Bytes.Encode(completion).Count, decoder.Tokens);

        var plain = Stream("just an answer", opensThink: false);
        Assert.Equal(("", "just an answer"), (plain.Reasoning, plain.Content));
        Assert.Equal(0, plain.Decoder.ReasoningTokens);
    }

    [Fact]
    public void A_stop_string_cuts_the_text_before_it_and_its_start_is_held_back_until_decided()
    {
        var (reasoning, content, deltas, decoder) = Stream("hmm</think>The answer: 4. END and more", opensThink: true, "END");
        Assert.Equal("hmm", reasoning);
        Assert.Equal("The answer: 4. ", content);
        Assert.True(decoder.Stopped);
        Assert.DoesNotContain(deltas, d => d.Contains('E'));

        // "EN" looked like the start of "END" but was not: it comes out once that is clear, or at the end.
        var (_, notStopped, _, other) = Stream("x</think>ENOUGH EN", opensThink: true, "END");
        Assert.Equal("ENOUGH EN", notStopped);
        Assert.False(other.Stopped);
    }

    [Theory]
    [InlineData("work</think>first \\boxed{3}</think> then \\boxed{4}", true)]
    [InlineData("<think>work</think>answer</think>more", false)]
    [InlineData("work</think></think>", true)]
    public void With_more_than_one_close_tag_the_stream_and_the_grader_both_end_the_reasoning_at_the_first(string completion, bool opened)
    {
        var (reasoning, content, _, _) = Stream(completion, opened);
        int first = completion.IndexOf("</think>", StringComparison.Ordinal);
        Assert.Equal(completion[(first + "</think>".Length)..], content);
        var parts = CompletionParts.Parse(completion, opened);
        Assert.Equal(content.Trim(), parts.Answer);
        Assert.Equal(reasoning, parts.Reasoning);
        Assert.False(parts.WellFormed); // two closes are never well-formed
    }
}
