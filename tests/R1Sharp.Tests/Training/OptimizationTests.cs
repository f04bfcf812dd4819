using R1Sharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

public class OptimizationTests
{
    static readonly IEqualityComparer<double> Close = GroupAdvantagesTests.Close(1e-6);

    [Fact]
    public void WarmupThenLinearOrCosineDecay()
    {
        var linear = new LearningRateSchedule(1.0, TotalSteps: 10, WarmupSteps: 2);
        Assert.Equal([0.5, 1, 1, 0.5, 0.125], new[] { 0, 1, 2, 6, 9 }.Select(linear.At), Close);
        var cosine = linear with { Type = LrSchedulerType.Cosine };
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI / 4)), cosine.At(4), Close); // progress 2/8
        Assert.Equal(0.5, cosine.At(6), Close);                               // progress 4/8
        var floored = linear with { MinLrRate = 0.1 };
        Assert.Equal(0.1 + 0.9 * 0.5, floored.At(6), Close);
        var constant = linear with { Type = LrSchedulerType.Constant };
        Assert.Equal([0.5, 1, 1], new[] { 0, 1, 9 }.Select(constant.At), Close);
    }

    [Fact]
    public void ScheduleSetsEveryParamGroupOfTheOptimizer()
    {
        using var model = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2));
        using var optimizer = AdamWSetup.Create(model, learningRate: 1, weightDecay: 0.1);
        var lr = new LearningRateSchedule(1e-3, TotalSteps: 4, WarmupSteps: 4).Apply(optimizer, step: 1);
        Assert.Equal(5e-4, lr, Close);
        Assert.All(optimizer.ParamGroups, g => Assert.Equal(5e-4, g.LearningRate, Close));
    }

    [Fact]
    public void ClippingReturnsTheNormBeforeClippingAndScalesToTheLimit()
    {
        using var a = new Parameter(zeros(1));
        using var b = new Parameter(zeros(1));
        a.grad = torch.tensor(new[] { 3f });
        b.grad = torch.tensor(new[] { 4f });
        Assert.Equal(5, GradientClipping.ClipGlobalNorm([a, b], maxNorm: 0), 1e-5); // measure only
        Assert.Equal(3, a.grad.item<float>(), 1e-6);
        Assert.Equal(5, GradientClipping.ClipGlobalNorm([a, b], maxNorm: 1), 1e-5);
        Assert.Equal(0.6, a.grad.item<float>(), 1e-5);
        Assert.Equal(0.8, b.grad!.item<float>(), 1e-5);
    }

    [Fact]
    public void WeightDecayShrinksMatricesButNotNormsOrBiases()
    {
        using var model = nn.Sequential(("proj", nn.Linear(3, 2)), ("norm", nn.LayerNorm(2)));
        var (decay, noDecay) = AdamWSetup.SplitForWeightDecay(model);
        Assert.Equal(["proj.weight"], decay.Select(p => p.Name));
        Assert.Equal(["proj.bias", "norm.weight", "norm.bias"], noDecay.Select(p => p.Name));

        var before = model.parameters().Select(p => p.data<float>().ToArray()).ToList();
        using var optimizer = AdamWSetup.Create(model, learningRate: 0.1, weightDecay: 0.5);
        // A zero gradient leaves Adam's update at 0, so only the decoupled decay p ← p(1 − lr·wd) moves weights.
        foreach (var p in model.parameters())
            p.grad = zeros_like(p);
        optimizer.step();
        var after = model.parameters().Select(p => p.data<float>().ToArray()).ToList();
        Assert.Equal(before[0].Select(v => v * 0.95), after[0].Select(v => (double)v), GroupAdvantagesTests.Close(1e-6));
        for (int i = 1; i < before.Count; i++)
            Assert.Equal(before[i], after[i]);
    }
}
