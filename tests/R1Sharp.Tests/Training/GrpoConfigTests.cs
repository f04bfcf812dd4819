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

    [Fact]
    public void Rollout_and_device_keys_round_trip_and_bad_values_name_the_key()
    {
        var config = GrpoConfig.FromJson("""
            {"rollout_endpoints": ["http://10.0.0.5:8080/v1", "http://10.0.0.6:8080/v1"], "rollout_is_cap": 2, "device": "cpu"}
            """, "config.json");
        Assert.Equal(["http://10.0.0.5:8080/v1", "http://10.0.0.6:8080/v1"], config.RolloutEndpoints!);
        Assert.Equal(2, config.RolloutIsCap);
        Assert.Equal(config, GrpoConfig.FromJson(config.ToJson(), "config.json") with { RolloutEndpoints = config.RolloutEndpoints });
        Assert.Equal(TorchSharp.DeviceType.CPU, config.TorchDevice().type);
        Assert.Contains("rollout_endpoints", Assert.Throws<R1Error>(() => GrpoConfig.FromJson("""{"rollout_endpoints": ["10.0.0.5:8080"]}""", "c.json")).Message);
        Assert.Contains("rollout_is_cap", Assert.Throws<R1Error>(() => GrpoConfig.FromJson("""{"rollout_is_cap": 0.5}""", "c.json")).Message);
        Assert.Contains("device", Assert.Throws<R1Error>(() => GrpoConfig.FromJson("""{"device": "tpu"}""", "c.json")).Message);
    }

    [SkippableFact]
    public void Cuda_on_a_machine_without_it_is_an_error_that_says_how_to_get_a_cuda_build()
    {
        Skip.If(TorchSharp.torch.cuda.is_available(), "this machine has CUDA: the learner would train there");
        var error = Assert.Throws<R1Error>(() => new GrpoConfig { Device = "cuda" }.Validate().TorchDevice());
        Assert.Contains("TorchSharp-cuda", error.Message);
    }
}
