using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>down(silu(gate(x)) ⊙ up(x)): the MLP of Llama, Qwen2, DeepSeek's dense layers and each expert. Projections
/// are run with <c>call</c>, which runs their hooks: a LoRA adapter's update comes in that way (<see cref="LoraAdapter"/>).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear gate_proj;
    readonly Linear up_proj;
    readonly Linear down_proj;

    public SwiGluMlp(long hidden, long intermediate) : base(nameof(SwiGluMlp))
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    internal (Linear Gate, Linear Up, Linear Down) Projections => (gate_proj, up_proj, down_proj);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.call(nn.functional.silu(gate_proj.call(x)) * up_proj.call(x)).MoveToOuterDisposeScope();
    }
}
