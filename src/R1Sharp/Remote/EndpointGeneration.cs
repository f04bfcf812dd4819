using R1Sharp.Evaluation;
using R1Sharp.Generation;
using R1Sharp.Tasks;

namespace R1Sharp.Remote;

/// <summary>
/// The "k completions of each prompt" step of evaluation and rejection sampling, drawn from an endpoint instead of the
/// local engine; everything after it (grading, metrics, traces) is the local code's.
/// </summary>
public static class EndpointGeneration
{
    /// <summary>
    /// Prompt <paramref name="promptIndex"/>'s k samples, one request each, and its greedy completion when
    /// <see cref="ModelEvalOptions.Greedy"/>. Sample j is sent seed <c>Seeds.ForOneSample(Seeds.ForPrompt(run seed, i), j)</c>,
    /// so `r1 serve` draws the samples local evaluation draws. The first request to fail cancels the others.
    /// </summary>
    public static async Task<PromptSamples> SampleAsync(OpenAiEndpoint endpoint, TaskExample example, int promptIndex, ModelEvalOptions options,
        CancellationToken cancellation)
    {
        int requestSeed = Seeds.ForPrompt(options.Seed, promptIndex);
        var calls = Enumerable.Range(0, options.Samples)
            .Select(j => new ChatCall(example.Prompt, options.Temperature, options.TopP, options.MaxTokens, Seeds.ForOneSample(requestSeed, j)))
            .ToList();
        if (options.Greedy) calls.Add(new ChatCall(example.Prompt, Temperature: 0, TopP: 1, options.MaxTokens, requestSeed));
        var replies = await AllOrNone(calls.Select(call => (Func<CancellationToken, Task<ChatReply>>)(c => endpoint.CompleteAsync(call, c))), cancellation);
        var samples = replies.Select(r => new EvalSample(r.Completion, r.CompletionTokens, r.HitLimit)).ToList();
        return new PromptSamples(example.Id, example.Answer, samples.Take(options.Samples).ToList(), options.Greedy ? samples[^1] : null);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on items 0 … count − 1, at most <paramref name="window"/> at once, and hands each
    /// result to <paramref name="commit"/> in item order (so a file written from it is the same whatever finished
    /// first, and everything before a failure is committed). A failure cancels the rest and is rethrown.
    /// </summary>
    public static async Task ForEachInOrderAsync<T>(int count, int window, Func<int, CancellationToken, Task<T>> work, Action<int, T> commit,
        CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var running = new Queue<Task<T>>();
        int next = 0;
        try
        {
            for (int i = 0; i < count; i++)
            {
                for (; next < count && running.Count < Math.Max(1, window); next++)
                {
                    int item = next;
                    running.Enqueue(Task.Run(() => work(item, stop.Token), stop.Token));
                }
                commit(i, await running.Dequeue());
            }
        }
        catch
        {
            stop.Cancel();
            await Quietly(running);
            throw;
        }
    }

    /// <summary>Every task's result, in order; the first failure cancels the others and is rethrown once they ended.</summary>
    static async Task<T[]> AllOrNone<T>(IEnumerable<Func<CancellationToken, Task<T>>> starts, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var tasks = starts.Select(start => start(stop.Token)).ToList();
        var pending = tasks.ToList();
        try
        {
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending);
                pending.Remove(done);
                await done;
            }
            return tasks.Select(t => t.Result).ToArray();
        }
        catch
        {
            stop.Cancel();
            await Quietly(pending);
            throw;
        }
    }

    static async Task Quietly(IEnumerable<Task> tasks)
    {
        try
        {
            await Task.WhenAll(tasks);
        }
        catch
        {
            // Their own failures (mostly the cancellation just asked for) say nothing the first one did not.
        }
    }
}
