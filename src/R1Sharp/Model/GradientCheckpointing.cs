using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace R1Sharp.Model;

/// <summary>
/// Gradient checkpointing of one decoder layer (PyTorch's reentrant <c>torch.utils.checkpoint</c>, which TorchSharp
/// lacks): the forward runs without recording the graph and keeps only the layer's input; the backward runs the
/// layer's forward again with gradients on, from that input and with the random state the first forward had (so LoRA
/// dropout draws the same mask), and back-propagates through it. Parameters get their gradients from that inner
/// backward; the input's gradient goes on down the outer graph. Activation memory drops from every layer's
/// intermediates to one hidden state per layer, for one more forward of compute.
/// </summary>
sealed class CheckpointedLayer : SingleTensorFunction<CheckpointedLayer>
{
    public override string Name => nameof(CheckpointedLayer);

    /// <summary>The layer's output, with its activations recomputed in backward instead of kept.</summary>
    public static Tensor Run(DecoderLayer layer, Tensor h, AttentionContext context)
    {
        // A node is recorded only if an input needs a gradient; below a frozen embedding (LoRA) h does not.
        var input = h.requires_grad ? h : h.detach().requires_grad_(true);
        return apply(input, context.Mask, context.Rope.Cos, context.Rope.Sin, layer, context);
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (h, layer, context) = ((Tensor)vars[0], (DecoderLayer)vars[4], (AttentionContext)vars[5]);
        ctx.save_for_backward([h, context.Mask!, context.Rope.Cos, context.Rope.Sin]);
        ctx.save_data("layer", layer);
        ctx.save_data("causal", context.IsCausal);
        ctx.save_data("rotary", context.Rotary);
        ctx.save_data("autocast", Training.Autocast.IsOn(h.device)); // backward runs outside autocast: recompute as the forward ran
        using (var rng = random.get_rng_state()) ctx.save_data("rng", rng.data<byte>().ToArray());
        return layer.Forward(h, context);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
    {
        var saved = ctx.get_saved_variables();
        var layer = (DecoderLayer)ctx.get_data("layer");
        var context = new AttentionContext
        {
            Mask = saved[1], IsCausal = (bool)ctx.get_data("causal"), Rope = (saved[2], saved[3]),
            Rotary = (RotaryEmbedding)ctx.get_data("rotary"),
        };
        Tensor inputGrad;
        using (var scope = NewDisposeScope())
        {
            var now = random.get_rng_state();
            random.set_rng_state(tensor((byte[])ctx.get_data("rng"), dtype: ScalarType.Byte));
            try
            {
                using var _ = enable_grad();
                using var cast = (bool)ctx.get_data("autocast") ? Training.Autocast.On(saved[0].device) : null;
                var x = saved[0].detach().requires_grad_(true);
                layer.Forward(x, context).backward([grad]);
                inputGrad = x.grad!.MoveToOuterDisposeScope();
            }
            finally
            {
                random.set_rng_state(now); // the recompute leaves the random stream where it was
            }
        }
        return [inputGrad, null!, null!, null!, null!, null!];
    }
}
