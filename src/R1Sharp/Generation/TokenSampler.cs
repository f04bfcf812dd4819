using static TorchSharp.torch;

namespace R1Sharp.Generation;

/// <summary>
/// Samples one token per row from logits [rows, vocab], each row with its own temperature, top-k, top-p,
/// min-p and random stream. Rows are filtered in one sorted pass and sampled by inverse CDF from a uniform
/// number drawn by the row's own seeded generator, so a row's tokens do not depend on its neighbours' draws.
/// </summary>
public sealed class TokenSampler : IDisposable
{
    readonly Random[] rngs;
    readonly Tensor temperature, topK, topP, minP; // [rows, 1]
    readonly bool[] greedy;
    readonly bool anySampled;

    public TokenSampler(IReadOnlyList<SamplingOptions> rowOptions, IReadOnlyList<int> rowSeeds, Device device)
    {
        rngs = rowSeeds.Select(s => new Random(s)).ToArray();
        greedy = rowOptions.Select(o => o.Temperature == 0).ToArray();
        anySampled = greedy.Any(g => !g);
        Tensor Column(Func<SamplingOptions, double> f) => tensor(rowOptions.Select(f).ToArray(), float32, device).unsqueeze(1);
        temperature = Column(o => o.Temperature == 0 ? 1 : o.Temperature);
        topK = Column(o => o.TopK);
        topP = Column(o => o.TopP);
        minP = Column(o => o.MinP);
    }

    /// <summary>Keeps only the rows at <paramref name="keep"/> (after finished rows leave the batch).</summary>
    public TokenSampler Select(long[] keep, Tensor keepIndex) => new(this, keep, keepIndex);

    TokenSampler(TokenSampler from, long[] keep, Tensor keepIndex)
    {
        rngs = keep.Select(i => from.rngs[i]).ToArray();
        greedy = keep.Select(i => from.greedy[i]).ToArray();
        anySampled = greedy.Any(g => !g);
        temperature = from.temperature.index_select(0, keepIndex);
        topK = from.topK.index_select(0, keepIndex);
        topP = from.topP.index_select(0, keepIndex);
        minP = from.minP.index_select(0, keepIndex);
    }

    public void Dispose()
    {
        foreach (var t in new[] { temperature, topK, topP, minP }) t.Dispose();
    }

    /// <summary>Returns (token ids [rows], log-probs [rows]) for logits [rows, vocab].</summary>
    public (Tensor Tokens, Tensor LogProbs) Sample(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var scaled = logits.to(float32) / temperature;
        var logProbs = scaled.log_softmax(-1);
        var tokens = logits.argmax(-1);
        if (anySampled)
        {
            var (sorted, order) = logProbs.exp().sort(-1, descending: true);
            var rank = arange(sorted.shape[1], device: sorted.device).unsqueeze(0);
            var before = sorted.cumsum(-1) - sorted; // probability mass strictly above each token
            var keep = ((topK <= 0) | (rank < topK))
                       & (before < topP)
                       & (sorted >= minP * sorted.narrow(1, 0, 1));
            var kept = sorted * keep;
            var cdf = kept.cumsum(-1);
            var u = tensor(rngs.Select(r => r.NextDouble()).ToArray(), float32, sorted.device).unsqueeze(1) * cdf.narrow(1, cdf.shape[1] - 1, 1);
            var pick = (cdf <= u).sum(-1, keepdim: true).clamp_max(sorted.shape[1] - 1);
            var sampled = order.gather(1, pick).squeeze(1);
            var isGreedy = tensor(greedy, device: sorted.device);
            tokens = where(isGreedy, tokens, sampled);
        }
        var chosen = logProbs.gather(1, tokens.unsqueeze(1)).squeeze(1);
        return (tokens.MoveToOuterDisposeScope(), chosen.MoveToOuterDisposeScope());
    }
}
