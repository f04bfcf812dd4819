using System.Runtime.CompilerServices;
using R1Sharp.Remote;
using R1Sharp.Serving;
using R1Sharp.Tokenizers;

namespace R1Sharp.Arena;

/// <summary>
/// A model behind an OpenAI-compatible endpoint (r1 serve, vLLM, llama.cpp's server, a hosted API), streamed through
/// <see cref="OpenAiEndpoint.StreamAsync"/>: thinking from <c>reasoning_content</c> or <c>reasoning</c>, everything the
/// server sends bounded, the API key only in the request's Authorization header. Failures name the contestant.
/// </summary>
public sealed class EndpointContestant(string name, ArenaSampling sampling, OpenAiEndpoint endpoint) : Contestant(name, sampling)
{
    public override async IAsyncEnumerable<ChatUpdate> Reply(IReadOnlyList<ChatMessage> prompt, int? seed, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var call = new ChatCall(prompt, Sampling.Temperature, Sampling.TopP, Sampling.MaxTokens, seed);
        await using var updates = endpoint.StreamAsync(call, cancellation).GetAsyncEnumerator(cancellation);
        while (true)
        {
            try
            {
                if (!await updates.MoveNextAsync()) yield break;
            }
            catch (R1Error e)
            {
                throw new R1Error($"contestant '{Name}': {e.Message}", e);
            }
            yield return updates.Current;
        }
    }
}
