using R1Sharp.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Model;

public class MoeRoutingTests
{
    static readonly ModelConfig Config = ModelPresets.Create(ModelFamily.DeepseekV3, "tiny", TinyModels.Vocab)
        with { NRoutedExperts = 16, NGroup = 4, TopkGroup = 2, NumExpertsPerTok = 3 };

    [Fact]
    public void Routing_picks_the_top_k_experts_within_the_best_groups()
    {
        manual_seed(5);
        using var gate = new MoeGate(Config);
        using var _ = no_grad();
        nn.init.normal_(gate.parameters().First(), 0, 1);
        gate.Bias.copy_(randn(16) * 0.1);
        var x = randn(50, Config.HiddenSize);
        var (indices, weights) = gate.Route(x);

        var scores = nn.functional.linear(x, gate.parameters().First()).sigmoid();
        var choice = (scores + gate.Bias).data<float>().ToArray();
        var s = scores.data<float>().ToArray();
        for (int n = 0; n < 50; n++)
        {
            var row = choice.Skip(n * 16).Take(16).ToArray();
            // Reference: group score = sum of the top two biased scores; keep the best 2 of 4 groups.
            var keptGroups = Enumerable.Range(0, 4)
                .OrderByDescending(g => row.Skip(g * 4).Take(4).OrderDescending().Take(2).Sum()).Take(2).ToHashSet();
            var expected = Enumerable.Range(0, 16).Where(e => keptGroups.Contains(e / 4))
                .OrderByDescending(e => row[e]).Take(3).ToHashSet();
            var picked = indices[n].data<long>().Select(i => (int)i).ToHashSet();
            Assert.Equal(expected, picked);

            // Mixing weights: the unbiased scores of the chosen experts, normalised, times the scaling factor.
            var raw = picked.Select(e => (double)s[n * 16 + e]).ToArray();
            var w = weights[n].data<float>().ToArray();
            Assert.Equal(Config.RoutedScalingFactor, w.Sum(), 4);
            var chosenOrder = indices[n].data<long>().ToArray();
            for (int k = 0; k < 3; k++)
                Assert.Equal(s[n * 16 + chosenOrder[k]] / raw.Sum() * Config.RoutedScalingFactor, w[k], 4);
        }
    }

    [Fact]
    public void The_bias_update_moves_expert_load_toward_balance_on_a_skewed_batch()
    {
        manual_seed(9);
        using var gate = new MoeGate(Config with { NGroup = 1, TopkGroup = 1 });
        gate.train();
        using var _ = no_grad();
        nn.init.normal_(gate.parameters().First(), 0, 0.02);
        // A skewed batch: every token leans toward the same direction, so a few experts take most tokens.
        var direction = randn(1, Config.HiddenSize);
        var x = 0.5 * direction + randn(400, Config.HiddenSize);
        gate.parameters().First().add_(direction.expand(16, -1) * tensor(Enumerable.Range(0, 16).Select(i => i * 0.005f).ToArray()).unsqueeze(1));

        // Load is counted by forwards that train: training mode with gradients on.
        void Route()
        {
            using (enable_grad()) gate.Route(x);
        }
        double Imbalance()
        {
            Route();
            var load = gate.Load.to(float32);
            return (load.max() / load.mean()).item<float>();
        }
        double before = Imbalance();
        gate.UpdateBias(0); // measure only
        for (int step = 0; step < 200; step++)
        {
            Route();
            gate.UpdateBias(0.002);
        }
        double after = Imbalance();
        Assert.True(before > 3, $"the batch should start skewed (max/mean load {before:F2})");
        Assert.True(after < before / 2, $"max/mean load went from {before:F2} to {after:F2}");
    }

    [Fact]
    public void Inference_does_not_count_load_and_the_bias_is_not_a_parameter()
    {
        using var model = TinyModels.Create(ModelFamily.DeepseekV3);
        using var _ = no_grad();
        model.Forward(tensor(new long[] { 1, 2, 3 }).unsqueeze(0));
        var gate = model.Layers[1].Moe!.Gate;
        Assert.Equal(0, gate.Load.sum().item<long>());
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("e_score_correction_bias"));
        Assert.Contains("model.layers.1.mlp.gate.e_score_correction_bias", model.ExpectedShapes().Keys);
    }
}
