using System.Text.Json.Nodes;
using R1Sharp.Training;

namespace R1Sharp.Tests.Training;

public class GrpoConfigTests
{
    [Fact]
    public void SerialisesWithTrlKeysAndDefaults()
    {
        var json = JsonNode.Parse(new GrpoConfig().ToJson())!.AsObject();
        Assert.Equal(8, (int)json["num_generations"]!);
        Assert.Equal(0.0, (double)json["beta"]!);
        Assert.Equal(0.2, (double)json["epsilon"]!);
        Assert.Null(json["epsilon_high"]);
        Assert.True(json.ContainsKey("epsilon_high"));
        Assert.Equal("dapo", (string)json["loss_type"]!);
        Assert.Equal("group", (string)json["scale_rewards"]!);
        Assert.Equal("linear", (string)json["lr_scheduler_type"]!);
        Assert.False((bool)json["mask_truncated_completions"]!);
        Assert.Equal(1e-6, (double)json["learning_rate"]!);
        Assert.Equal(512, (int)json["max_completion_length"]!);
        Assert.False(json.ContainsKey("effective_epsilon_high"));
    }

    [Fact]
    public void RoundTripsThroughJson()
    {
        var config = new GrpoConfig { LossType = LossType.DrGrpo, ScaleRewards = ScaleRewards.None, EpsilonHigh = 0.28, RewardWeights = [1, 0.1] };
        var back = GrpoConfig.FromJson(config.ToJson(), "config.json");
        Assert.Equal(LossType.DrGrpo, back.LossType);
        Assert.Equal(ScaleRewards.None, back.ScaleRewards);
        Assert.Equal(0.28, back.EffectiveEpsilonHigh);
        Assert.Equal([1, 0.1], back.RewardWeights!);
        Assert.Equal(0.2, new GrpoConfig().EffectiveEpsilonHigh);
    }

    [Fact]
    public void BadValuesNameTheOption()
    {
        var e = Assert.Throws<R1Error>(() => new GrpoConfig { NumGenerations = 1 }.Validate());
        Assert.Contains("num_generations = 1", e.Message);
        var unknown = Assert.Throws<R1Error>(() => GrpoConfig.FromJson("""{"num_generation": 4}""", "run/config.json"));
        Assert.Contains("run/config.json", unknown.Message);
        Assert.Contains("num_generation", unknown.Message);
        var badEnum = Assert.Throws<R1Error>(() => GrpoConfig.FromJson("""{"loss_type": "ppo"}""", "c.json"));
        Assert.Contains("c.json", badEnum.Message);
    }

    [Fact]
    public void CommandLineValuesParseAsTrlSpellsThem()
    {
        Assert.Equal(LossType.DrGrpo, SnakeCase.Parse<LossType>("dr_grpo", "--loss_type"));
        Assert.Equal(ScaleRewards.Batch, SnakeCase.Parse<ScaleRewards>("batch", "--scale_rewards"));
        var e = Assert.Throws<R1Error>(() => SnakeCase.Parse<LossType>("ppo", "--loss_type"));
        Assert.Equal("--loss_type: 'ppo' is not one of grpo, bnpo, dr_grpo, dapo", e.Message);
    }
}
