using System.Runtime.ExceptionServices;
using R1Sharp.Model;
using R1Sharp.Tokenizers;

namespace R1Sharp.Generation;

/// <summary>
/// Offline generation (`r1 generate`, `r1 eval`, GRPO rollouts, rejection sampling): submits every request to the one
/// <see cref="DecodeLoop"/> and runs it on the calling thread until all are done. All prompts are prefilled together in
/// one left-padded pass, once per prompt however many samples it asks for; finished rows leave the batch.
/// </summary>
/// <param name="tokenizer">Ends samples at the end-of-turn ids (<see cref="DecodeLoop.EndOfTurnIds"/>) and decodes stop
/// strings; without one only <see cref="SamplingOptions.StopTokenIds"/> and max new tokens end a sample.</param>
public sealed class GenerationEngine(CausalLanguageModel model, ITextTokenizer? tokenizer = null)
{
    public CausalLanguageModel Model => model;
    public ITextTokenizer? Tokenizer => tokenizer;

    /// <summary>Generates every request's samples; the result is indexed [request][sample].</summary>
    public IReadOnlyList<IReadOnlyList<GeneratedSample>> Generate(IReadOnlyList<GenerationRequest> requests,
        Action<TokenEvent>? onToken = null, CancellationToken cancellation = default)
    {
        if (requests.Count == 0) return [];
        using var loop = new DecodeLoop(model, tokenizer);
        foreach (var request in requests) loop.Check(request);
        var failure = new Failure();
        var collectors = requests.Select((r, i) => new Collector(r, i, tokenizer, onToken, failure)).ToList();
        loop.Run(new AllAtOnce(collectors.Select((c, i) => new Submission(requests[i], c)).ToList(), failure), cancellation);
        if (failure.Error is { } error) ExceptionDispatchInfo.Throw(error);
        return collectors.Select(c => c.Samples()).ToList();
    }

    /// <summary>The first failure of any request: an offline call fails as a whole.</summary>
    sealed class Failure
    {
        public Exception? Error { get; set; }
    }

    /// <summary>Every request joins at the first step; the loop ends when no row is left or a request failed.</summary>
    sealed class AllAtOnce(List<Submission> submissions, Failure failure) : ISubmissionSource
    {
        bool started;

        public bool Take(Func<Submission, bool> admit, List<Submission> joining, bool idle)
        {
            if (failure.Error is not null) return false;
            if (started) return !idle;
            started = true;
            foreach (var s in submissions) admit(s); // an unlimited loop admits all
            joining.AddRange(submissions);
            return true;
        }
    }

    /// <summary>One request's samples as they arrive: tokens, log-probs, stop strings, and why each ended.</summary>
    sealed class Collector(GenerationRequest request, int requestIndex, ITextTokenizer? tokenizer, Action<TokenEvent>? onToken, Failure failure)
        : ISampleSink
    {
        readonly List<int>[] tokens = Enumerable.Range(0, request.NumSamples).Select(_ => new List<int>()).ToArray();
        readonly List<float>[] logProbs = Enumerable.Range(0, request.NumSamples).Select(_ => new List<float>()).ToArray();
        readonly TextStream?[] texts = Enumerable.Range(0, request.NumSamples)
            .Select(_ => request.Options.StopStrings.Count > 0 ? new TextStream(tokenizer!, request.Options.StopStrings) : null).ToArray();
        readonly FinishReason[] reasons = new FinishReason[request.NumSamples];

        public bool OnToken(int sample, int tokenId, float logProb, bool last)
        {
            tokens[sample].Add(tokenId);
            logProbs[sample].Add(logProb);
            var text = texts[sample];
            text?.Add(tokenId);
            bool stop = text?.Stopped == true;
            onToken?.Invoke(new TokenEvent(requestIndex, sample, tokenId, logProb, last || stop));
            return stop;
        }

        public void OnFinished(int sample, FinishReason reason) => reasons[sample] = reason;

        public void OnFailed(Exception error) => failure.Error ??= error;

        public IReadOnlyList<GeneratedSample> Samples() => Enumerable.Range(0, tokens.Length).Select(s => new GeneratedSample(
            requestIndex, s, tokens[s].ToArray(), logProbs[s].ToArray(), reasons[s], texts[s]?.MatchedStop)).ToList();
    }
}
