using R1Sharp.Arena;
using R1Sharp.Cli;

namespace R1Sharp.Tests.Arena;

/// <summary>arena.json: strict parsing, shared and per-contestant sampling, and what loading refuses.</summary>
public sealed class ArenaConfigTests : IDisposable
{
    readonly TempDir folder = new("r1-arena-config-");

    public void Dispose() => folder.Dispose();

    ArenaConfig Parse(string json) => ArenaConfig.Parse(json, "arena.json", folder);

    [Fact]
    public void Local_models_and_endpoints_share_the_sampling_settings_unless_they_set_their_own()
    {
        var config = Parse("""
            {"contestants": [
               {"name": "base", "model": "runs/q/models/base"},
               {"name": "rl", "model": "/abs/rl.gguf", "temperature": 0, "max_tokens": 64},
               {"name": "api", "url": "http://127.0.0.1:9000/v1", "endpoint_model": "deepseek-r1", "api_key_env": "MY_KEY", "top_p": 0.5}],
             "temperature": 0.7, "top_p": 0.9, "max_tokens": 256}
            """);
        Assert.Equal(new ArenaSampling(0.7, 0.9, 256), config.Sampling);
        Assert.Equal(["base", "rl", "api"], config.Contestants.Select(c => c.Name));
        Assert.Equal(Path.Combine(folder, "runs", "q", "models", "base"), config.Contestants[0].Model); // from the config's folder
        Assert.Equal(new ArenaSampling(0.7, 0.9, 256), config.Contestants[0].Sampling);
        Assert.Equal("/abs/rl.gguf", config.Contestants[1].Model);
        Assert.Equal(new ArenaSampling(0, 0.9, 64), config.Contestants[1].Sampling);
        var api = config.Contestants[2];
        Assert.Null(api.Model);
        Assert.Equal(("http://127.0.0.1:9000/v1", "deepseek-r1", "MY_KEY"), (api.Url, api.EndpointModel, api.ApiKeyEnv));
        Assert.Equal(new ArenaSampling(0.7, 0.5, 256), api.Sampling);

        // Defaults: R1's recommended sampling.
        Assert.Equal(new ArenaSampling(0.6, 0.95, 1024), Parse("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}]}""").Sampling);
    }

    [Theory]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}], "tempreature": 1}""", "unknown key \"tempreature\"")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y", "seed": 3}]}""", "unknown key \"contestants[1].seed\"")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x", "url": "http://h/v1"}, {"name": "b", "model": "y"}]}""", "exactly one of \"model\"")]
    [InlineData("""{"contestants": [{"name": "a"}, {"name": "b", "model": "y"}]}""", "exactly one of \"model\"")]
    [InlineData("""{"contestants": [{"name": "a", "url": "http://h/v1"}, {"name": "b", "model": "y"}]}""", "contestants[0].endpoint_model is required")]
    [InlineData("""{"contestants": [{"name": "a", "url": "ftp://h/v1", "endpoint_model": "m"}, {"name": "b", "model": "y"}]}""", "contestants[0].url must be an http or https URL")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x", "api_key_env": "K"}, {"name": "b", "model": "y"}]}""", "contestants[0].api_key_env is for endpoints")]
    [InlineData("""{"contestants": [{"name": "a", "url": "http://h/v1", "endpoint_model": "m", "adapter": "l"}, {"name": "b", "model": "y"}]}""", "contestants[0].adapter is for local models")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "a", "model": "y"}]}""", "two contestants are named \"a\"")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}]}""", "at least 2 contestants")]
    [InlineData("""{"contestants": [{"name": "", "model": "x"}, {"name": "b", "model": "y"}]}""", "contestants[0].name must be")]
    [InlineData("""{"contestants": [{"model": "x"}, {"name": "b", "model": "y"}]}""", "contestants[0].name is required")]
    [InlineData("""{"contestants": [{"name": 5, "model": "x"}, {"name": "b", "model": "y"}]}""", "contestants[0].name must be a string")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}], "temperature": 3}""", "temperature must be between 0 and 2")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x", "top_p": 0}, {"name": "b", "model": "y"}]}""", "contestants[0].top_p must be greater than 0")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y", "max_tokens": 1.5}]}""", "contestants[1].max_tokens must be a whole number")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}], "max_tokens": "many"}""", "max_tokens must be a number")]
    [InlineData("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}], "top_p": 0.5, "top_p": 0.9}""", "not valid JSON")]
    [InlineData("""{"contestants": {"name": "a"}}""", "\"contestants\" must be a list")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    [InlineData("""{"contestants": [""", "not valid JSON")]
    public void A_bad_config_is_an_error_naming_the_file_and_the_key(string json, string problem)
    {
        var error = Assert.Throws<R1Error>(() => Parse(json));
        Assert.StartsWith("arena.json: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Loading_refuses_adapters_for_now_unset_key_variables_and_missing_models_and_the_cli_exits_2()
    {
        string Write(string json)
        {
            string path = Path.Combine(folder, $"arena-{Guid.NewGuid():N}.json");
            File.WriteAllText(path, json);
            return path;
        }

        var adapter = ArenaConfig.Load(Write("""{"contestants": [{"name": "a", "model": "x", "adapter": "lora"}, {"name": "b", "model": "y"}]}"""));
        Assert.Contains("adapters are not supported yet", Assert.Throws<R1Error>(() => ArenaContestants.Load(adapter)).Message);

        var keyed = ArenaConfig.Load(Write("""{"contestants": [{"name": "a", "url": "http://127.0.0.1:1/v1", "endpoint_model": "m", "api_key_env": "R1_ARENA_TEST_UNSET_KEY"}, {"name": "b", "url": "http://127.0.0.1:1/v1", "endpoint_model": "m"}]}"""));
        Environment.SetEnvironmentVariable("R1_ARENA_TEST_UNSET_KEY", null);
        var unset = Assert.Throws<R1Error>(() => ArenaContestants.Load(keyed));
        Assert.Contains("R1_ARENA_TEST_UNSET_KEY", unset.Message);
        Assert.Contains("contestant 'a'", unset.Message);

        var missing = ArenaConfig.Load(Write("""{"contestants": [{"name": "a", "model": "no-such-model"}, {"name": "b", "model": "y"}]}"""));
        var error = Assert.Throws<R1Error>(() => ArenaContestants.Load(missing));
        Assert.Contains("contestant 'a': cannot load", error.Message);

        string unknownKey = Write("""{"contestants": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}], "judge": "human"}""");
        Assert.Equal(2, CliApp.Run(["arena", "auto", "--config", unknownKey, "--task", "arithmetic", "--battles", "2", "--db", folder.File("a.db")]));
        Assert.Equal(2, CliApp.Run(["arena", "serve", "--config", unknownKey, "--port", "0", "--db", folder.File("a.db")]));
        Assert.Equal(2, CliApp.Run(["arena", "auto", "--config", folder.File("missing.json"), "--task", "arithmetic", "--battles", "2"]));
    }
}
