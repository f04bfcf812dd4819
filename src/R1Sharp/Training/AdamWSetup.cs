using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// AdamW with weight decay on weight matrices and embeddings only. Decaying the gains of norms or biases pulls
/// them toward 0, which only hurts, so (as nanoGPT) every parameter with fewer than two dimensions is exempt.
/// </summary>
public static class AdamWSetup
{
    public static AdamW Create(nn.Module model, double learningRate, double weightDecay, double beta1 = 0.9,
        double beta2 = 0.999, double epsilon = 1e-8)
    {
        var (decay, noDecay) = SplitForWeightDecay(model);
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay.Select(p => p.Parameter), learningRate, beta1, beta2, epsilon, weightDecay),
            new(noDecay.Select(p => p.Parameter), learningRate, beta1, beta2, epsilon, weight_decay: 0),
        };
        return optim.AdamW(groups, learningRate, beta1, beta2, epsilon, weightDecay);
    }

    public static AdamW Create(nn.Module model, GrpoConfig config) =>
        Create(model, config.LearningRate, config.WeightDecay, config.AdamBeta1, config.AdamBeta2, config.AdamEpsilon);

    /// <summary>Trainable parameters by name: matrices (decayed) and vectors/scalars (not decayed).</summary>
    public static (List<(string Name, Parameter Parameter)> Decay, List<(string Name, Parameter Parameter)> NoDecay)
        SplitForWeightDecay(nn.Module model)
    {
        // Tied weights appear under two names; the optimizer must see each tensor once.
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad)
            .DistinctBy(p => p.parameter.Handle).ToList();
        return (trainable.Where(p => p.parameter.dim() >= 2).Select(p => (p.name, p.parameter)).ToList(),
                trainable.Where(p => p.parameter.dim() < 2).Select(p => (p.name, p.parameter)).ToList());
    }
}
