using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>down(silu(gate(x)) ⊙ up(x)): the MLP of Llama, Qwen2, DeepSeek's dense layers and each expert. Projections
/// are run with <c>call</c>, which runs their hooks: a LoRA adapter's update comes in that way (<see cref="LoraAdapter"/>).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    readonly Projection gate_proj;
    readonly Projection up_proj;
    readonly Projection down_proj;

    public SwiGluMlp(long hidden, long intermediate) : base(nameof(SwiGluMlp))
    {
        gate_proj = new Projection(hidden, intermediate, hasBias: false);
        up_proj = new Projection(hidden, intermediate, hasBias: false);
        down_proj = new Projection(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    internal (Projection Gate, Projection Up, Projection Down) Projections => (gate_proj, up_proj, down_proj);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.call(nn.functional.silu(gate_proj.call(x)) * up_proj.call(x)).MoveToOuterDisposeScope();
    }
}
