using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>y = w ⊙ x / sqrt(mean(x²) + eps), computed in float32 as HF does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;

    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim));
        this.eps = eps;
        RegisterComponents();
    }

    internal Tensor Weight => weight;
    internal double Eps => eps;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32 * rsqrt(x32.pow(2).mean([-1L], keepdim: true) + eps);
        return (weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
