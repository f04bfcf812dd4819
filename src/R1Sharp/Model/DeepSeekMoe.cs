using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// The router of a DeepSeekMoE layer: sigmoid (or softmax) affinities, a per-expert correction bias that only
/// steers the choice (never the mixing weights), group-limited top-k. The bias is a buffer, not a parameter:
/// training moves it toward balanced load without an auxiliary loss (<see cref="UpdateBias"/>).
/// </summary>
public sealed class MoeGate : nn.Module
{
    readonly Parameter weight;
    readonly Tensor e_score_correction_bias;
    readonly ModelConfig config;
    // Created lazily, after RegisterComponents, so it is neither a buffer nor saved in checkpoints.
    Tensor? expertLoad;

    public MoeGate(ModelConfig config) : base(nameof(MoeGate))
    {
        this.config = config;
        weight = new Parameter(empty(config.NRoutedExperts, config.HiddenSize));
        e_score_correction_bias = zeros(config.NRoutedExperts);
        RegisterComponents(); // registers the bias as a buffer: saved, moved, but never given a gradient
    }

    public Tensor Bias => e_score_correction_bias;

    /// <summary>Tokens routed to each expert since the last <see cref="UpdateBias"/> (training forwards only).</summary>
    public Tensor Load => expertLoad ??= zeros(config.NRoutedExperts, int64, e_score_correction_bias.device).DetachFromDisposeScope();

    /// <summary>x [N, hidden] → (expert indices [N, k], mixing weights [N, k]).</summary>
    public (Tensor Indices, Tensor Weights) Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor logits;
        using (Training.Autocast.Off(x.device)) // routing affinities in fp32 even inside a bf16 forward, as DeepSeek-V3's gate
            logits = nn.functional.linear(x.to(float32), weight.to(float32));
        var scores = config.ScoringFunc == "softmax" ? logits.softmax(-1) : logits.sigmoid();
        var choice = scores.detach() + e_score_correction_bias.to(float32);

        if (config.NGroup > 1)
        {
            long n = x.shape[0];
            int perGroup = config.NRoutedExperts / config.NGroup;
            var grouped = choice.view(n, config.NGroup, perGroup);
            // A group's score is the sum of its two best experts (DeepSeek-V3's noaux_tc rule).
            var groupScores = grouped.topk(Math.Min(2, perGroup), -1).values.sum(-1);
            var keptGroups = groupScores.topk(config.TopkGroup, -1).indexes;
            var keep = zeros_like(groupScores, dtype: @bool).scatter_(1, keptGroups, ones_like(keptGroups, dtype: @bool));
            choice = choice.masked_fill(keep.unsqueeze(-1).expand(n, config.NGroup, perGroup).reshape(n, -1).logical_not(), double.NegativeInfinity);
        }
        var indices = choice.topk(config.NumExpertsPerTok, -1).indexes;
        var weights = scores.gather(1, indices);
        if (config.NormTopkProb) weights = weights / (weights.sum(-1, keepdim: true) + 1e-20);
        weights = weights * config.RoutedScalingFactor;
        // Forwards that train count; a checkpointed layer's first, graph-less forward does not (its recompute does).
        if (training && is_grad_enabled())
            using (no_grad())
                Load.add_(bincount(indices.reshape(-1), minlength: config.NRoutedExperts));
        return (indices.MoveToOuterDisposeScope(), weights.to(x.dtype).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Auxiliary-loss-free balancing (DeepSeek-V3 §2.1.2): b_i += γ·sign(mean load − load_i), then the load
    /// counter restarts. Returns the load that was used.
    /// </summary>
    public Tensor UpdateBias(double gamma)
    {
        using var _ = no_grad();
        var counts = Load.to(float32);
        e_score_correction_bias.add_((counts.mean() - counts).sign() * gamma);
        expertLoad!.Dispose();
        expertLoad = null;
        return counts;
    }
}

/// <summary>
/// DeepSeekMoE: each token's output is the weighted sum of its top-k routed experts plus the always-on shared
/// expert(s). Only k + shared experts run per token, so active parameters are a fraction of the total.
/// </summary>
public sealed class DeepSeekMoe : nn.Module<Tensor, Tensor>
{
    readonly MoeGate gate;
    readonly ModuleList<SwiGluMlp> experts;
    readonly SwiGluMlp? shared_experts;

    public DeepSeekMoe(ModelConfig config) : base(nameof(DeepSeekMoe))
    {
        gate = new MoeGate(config);
        experts = new ModuleList<SwiGluMlp>(Enumerable.Range(0, config.NRoutedExperts)
            .Select(_ => new SwiGluMlp(config.HiddenSize, config.MoeIntermediateSize)).ToArray());
        if (config.NSharedExperts > 0)
            shared_experts = new SwiGluMlp(config.HiddenSize, (long)config.MoeIntermediateSize * config.NSharedExperts);
        RegisterComponents();
    }

    public MoeGate Gate => gate;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var flat = x.reshape(-1, shape[^1]);
        var (indices, weights) = gate.Route(flat);
        var output = zeros_like(flat);
        // Dispatch: gather each expert's tokens, run it once on them, scatter-add the weighted result back.
        var counts = bincount(indices.reshape(-1), minlength: experts.Count).data<long>().ToArray();
        for (int e = 0; e < experts.Count; e++)
        {
            if (counts[e] == 0) continue;
            var hits = (indices == e).nonzero();
            var rows = hits.select(1, 0);
            var slots = hits.select(1, 1);
            var y = experts[e].forward(flat.index_select(0, rows)) * weights.index([rows, slots]).unsqueeze(-1);
            output.index_add_(0, rows, y, 1);
        }
        if (shared_experts is not null) output = output + shared_experts.forward(flat);
        return output.view(shape).MoveToOuterDisposeScope();
    }
}
