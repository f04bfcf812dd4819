namespace R1Sharp.Model;

/// <summary>What `r1 inspect` reports about a model's size and cost per token.</summary>
public sealed record ModelStats(long TotalParameters, long ActiveParametersPerToken, long KvCacheBytesPerToken, int KvCacheValuesPerTokenPerLayer)
{
    /// <summary>
    /// Counts from the config alone. Active parameters exclude the routed experts a token does not use (and
    /// count the input embedding in full, as parameter counts usually do). KV bytes assume <paramref name="bytesPerValue"/>.
    /// </summary>
    public static ModelStats Of(CausalLanguageModel model, int bytesPerValue = 2)
    {
        var c = model.Config;
        long total = model.parameters().Sum(p => p.NumberOfElements);
        long expertSize = 3L * c.HiddenSize * c.MoeIntermediateSize;
        int moeLayers = Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMoeLayer);
        long unusedExperts = (long)moeLayers * (c.NRoutedExperts - c.NumExpertsPerTok) * expertSize;
        int perLayer = c.IsMla ? c.KvLoraRank + c.QkRopeHeadDim : 2 * c.NumKeyValueHeads * c.GqaHeadDim;
        return new ModelStats(total, total - unusedExperts, (long)perLayer * c.NumHiddenLayers * bytesPerValue, perLayer);
    }
}
