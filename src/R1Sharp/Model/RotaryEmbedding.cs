using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// Rotary position embedding tables. Llama/Qwen checkpoints rotate the two halves of each head
/// ("rotate-half"); DeepSeek checkpoints rotate adjacent pairs ("interleaved"), so both are supported.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor cos; // [maxPositions, dim/2]
    readonly Tensor sin;
    /// <summary>cos and sin of every position's angles, [maxPositions, dim/2] float32.</summary>
    internal (Tensor Cos, Tensor Sin) Tables => (cos, sin);
    public int Dim { get; }
    public bool Interleaved { get; }
    /// <summary>YaRN's attention temperature correction, applied to the softmax scale (1 without YaRN).</summary>
    public double AttentionScaleFactor { get; }

    /// <param name="magnitude">Scales cos and sin (HF's YaRN attention factor for rotate-half models; 1 otherwise).</param>
    public RotaryEmbedding(int dim, int maxPositions, double theta, RopeScaling? scaling, bool interleaved, Device? device = null, double magnitude = 1)
    {
        Dim = dim;
        Interleaved = interleaved;
        var invFreq = InverseFrequencies(dim, theta, scaling, out double attentionFactor);
        AttentionScaleFactor = attentionFactor;
        using var positions = arange(maxPositions, dtype: float64);
        using var angles = outer(positions, tensor(invFreq, dtype: float64));
        cos = (angles.cos() * magnitude).to(float32).to(device ?? CPU);
        sin = (angles.sin() * magnitude).to(float32).to(device ?? CPU);
    }

    /// <summary>Per-pair rotation frequencies after rope scaling (also used by the GGUF exporter).</summary>
    public static double[] InverseFrequencies(int dim, double theta, RopeScaling? scaling, out double attentionFactor)
    {
        attentionFactor = 1.0;
        int half = dim / 2;
        var freqs = new double[half];
        for (int i = 0; i < half; i++) freqs[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);
        if (scaling is null) return freqs;

        if (scaling.Type == "llama3")
        {
            // Llama-3.1: long wavelengths are slowed by `factor`, short ones kept, the band between interpolated.
            double lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
            double highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
            for (int i = 0; i < half; i++)
            {
                double wavelen = 2 * Math.PI / freqs[i];
                if (wavelen > lowWavelen) freqs[i] /= scaling.Factor;
                else if (wavelen >= highWavelen)
                {
                    double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor) /
                                    (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    freqs[i] = (1 - smooth) * freqs[i] / scaling.Factor + smooth * freqs[i];
                }
            }
            return freqs;
        }

        // YaRN as in DeepSeek-V3's inference code: high-frequency dims keep their frequency, low ones are
        // divided by `factor`, with a linear ramp between the correction dims for beta_fast and beta_slow.
        double CorrectionDim(double rotations) =>
            dim * Math.Log(scaling.OriginalMaxPositionEmbeddings / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(scaling.BetaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(scaling.BetaSlow)), dim - 1);
        if (low == high) high += 0.001;
        for (int i = 0; i < half; i++)
        {
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            double smooth = 1 - ramp;
            freqs[i] = freqs[i] / scaling.Factor * (1 - smooth) + freqs[i] * smooth;
        }
        if (scaling.MscaleAllDim > 0)
        {
            double m = scaling.Factor <= 1 ? 1 : 0.1 * scaling.MscaleAllDim * Math.Log(scaling.Factor) + 1;
            attentionFactor = m * m;
        }
        return freqs;
    }

    /// <summary>cos and sin for the given positions [B, T], shaped [B, T, 1, dim/2] to broadcast over heads.</summary>
    public (Tensor Cos, Tensor Sin) At(Tensor positions)
    {
        var flat = positions.reshape(-1);
        long[] shape = [positions.shape[0], positions.shape[1], 1, Dim / 2];
        return (cos.index_select(0, flat).view(shape), sin.index_select(0, flat).view(shape));
    }

    /// <summary>Rotates x [B, T, H, dim] by the angles from <see cref="At"/>.</summary>
    public Tensor Apply(Tensor x, (Tensor Cos, Tensor Sin) angles)
    {
        using var scope = NewDisposeScope();
        var (c, s) = angles;
        Tensor result;
        if (Interleaved)
        {
            var pairs = x.view([.. x.shape[..^1], Dim / 2, 2]);
            var x0 = pairs.select(-1, 0);
            var x1 = pairs.select(-1, 1);
            result = stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2);
        }
        else
        {
            var x0 = x.narrow(-1, 0, Dim / 2);
            var x1 = x.narrow(-1, Dim / 2, Dim / 2);
            result = cat([x0 * c - x1 * s, x0 * s + x1 * c], -1);
        }
        return result.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        cos.Dispose();
        sin.Dispose();
    }
}
