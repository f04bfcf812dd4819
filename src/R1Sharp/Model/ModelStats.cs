namespace R1Sharp.Model;

/// <summary>
/// What `r1 inspect` reports about a model's size and cost per token, computed from the config alone so that
/// a 671B config can be inspected without allocating it.
/// </summary>
public sealed record ModelStats(long TotalParameters, long ActiveParametersPerToken, int KvCacheValuesPerTokenPerLayer, int Layers)
{
    /// <summary>KV-cache bytes one token costs across all layers at <paramref name="bytesPerValue"/> (2 for bf16).</summary>
    public long KvCacheBytesPerToken(int bytesPerValue = 2) => (long)KvCacheValuesPerTokenPerLayer * Layers * bytesPerValue;

    public static ModelStats Of(ModelConfig c)
    {
        long hidden = c.HiddenSize;
        long attention;
        int kvPerLayer;
        if (c.IsMla)
        {
            long qHead = c.QkNopeHeadDim + c.QkRopeHeadDim;
            long q = c.QLoraRank is int qr and > 0
                ? hidden * qr + qr + (long)qr * c.NumAttentionHeads * qHead
                : hidden * c.NumAttentionHeads * qHead;
            attention = q + hidden * (c.KvLoraRank + c.QkRopeHeadDim) + c.KvLoraRank
                        + (long)c.KvLoraRank * c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim)
                        + (long)c.NumAttentionHeads * c.VHeadDim * hidden;
            // Absorbed MLA caches the latent and the shared rotary key only.
            kvPerLayer = c.KvLoraRank + c.QkRopeHeadDim;
        }
        else
        {
            long qWidth = (long)c.NumAttentionHeads * c.GqaHeadDim, kvWidth = (long)c.NumKeyValueHeads * c.GqaHeadDim;
            attention = hidden * (qWidth + 2 * kvWidth) + qWidth * hidden
                        + (c.HasQkvBias ? qWidth + 2 * kvWidth : 0) + (c.HasOutputBias ? hidden : 0)
                        + (c.HasQkNorm ? 2L * c.GqaHeadDim : 0);
            kvPerLayer = (int)(2 * kvWidth);
        }

        long expert = 3 * hidden * c.MoeIntermediateSize;
        long total = 0, active = 0;
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            long common = attention + 2 * hidden; // + the two RMSNorms
            if (c.IsMoeLayer(layer))
            {
                long shared = expert * c.NSharedExperts + (long)c.NRoutedExperts * hidden; // shared experts + router
                total += common + shared + expert * c.NRoutedExperts;
                active += common + shared + expert * c.NumExpertsPerTok;
            }
            else
            {
                long mlp = 3 * hidden * c.IntermediateSize;
                total += common + mlp;
                active += common + mlp;
            }
        }
        long embeddings = (long)c.VocabSize * hidden * (c.TieWordEmbeddings ? 1 : 2) + hidden;
        return new ModelStats(total + embeddings, active + embeddings, kvPerLayer, c.NumHiddenLayers);
    }
}
