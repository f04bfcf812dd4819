using System.Diagnostics;
using R1Sharp.Remote;
using R1Sharp.Tasks;

namespace R1Sharp.Evaluation;

/// <summary>
/// `r1 eval --endpoint`: R1's protocol against any OpenAI-compatible model. Only the completions come from the server
/// (<see cref="EndpointGeneration"/>); prompts, grading, metrics and files are local evaluation's.
/// </summary>
public static class EndpointEvaluator
{
    /// <param name="outDir">Where eval.json and samples.jsonl go; null writes nothing.</param>
    public static async Task<EvalResult> RunAsync(OpenAiEndpoint endpoint, IVerifiableTask task, TaskSplit split, ModelEvalOptions options,
        string? outDir, Action<int, int>? progress = null, CancellationToken cancellation = default)
    {
        var examples = ModelEvaluator.Examples(task, split, options);
        var clock = Stopwatch.StartNew();
        var before = endpoint.Counts;
        var prompts = new PromptSamples[examples.Count];
        await EndpointGeneration.ForEachInOrderAsync(examples.Count, endpoint.Options.Concurrency,
            (i, c) => EndpointGeneration.SampleAsync(endpoint, examples[i], i, options, c),
            (i, samples) =>
            {
                prompts[i] = samples;
                progress?.Invoke(i + 1, examples.Count);
            }, cancellation);
        var settings = new EvalSettings(endpoint.Options.Model, options.Temperature, options.TopP, options.MaxTokens, options.Seed);
        // Replies are written as after a template that opened <think> (ChatReply.Completion).
        var result = Evaluator.Evaluate(task, prompts, settings, templateOpenedThink: true);
        result = result with
        {
            Report = result.Report with { Endpoint = EndpointUsage.From(endpoint.Options, endpoint.Counts - before, clock.Elapsed.TotalSeconds) },
        };
        if (outDir is not null) result.Save(outDir);
        return result;
    }
}
