using TorchSharp;
using TorchSharp.Modules;

namespace R1Sharp.Training;

/// <summary>Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients together so their global L2 norm is at most <paramref name="maxNorm"/> (0 = measure
    /// only) and returns the norm before clipping, the number worth logging: a spike shows an unstable step.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        // An infinite limit makes the clip coefficient 1, so torch only measures.
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        if (withGrad.Count == 0)
            return 0;
        return torch.nn.utils.clip_grad_norm_(withGrad, maxNorm > 0 ? maxNorm : double.PositiveInfinity);
    }
}
