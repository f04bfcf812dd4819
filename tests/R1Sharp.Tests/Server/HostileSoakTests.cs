using R1Sharp.Server;

namespace R1Sharp.Tests.Server;

[Collection(ServerCollection.Name)]
public class HostileSoakTests
{
    [Fact]
    public async Task A_short_hostile_soak_answers_every_normal_request_and_refuses_every_hostile_one()
    {
        // `r1 bench serve-hostile` at a few seconds' length, against the long-context random model.
        var result = await HostileSoak.RunAsync(new HostileSoakOptions { ModelDir = ServerTestModels.RandomDir, Requests = 120, Concurrency = 6 });
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures));
        Assert.All(result.Kinds, k => Assert.Equal(k.Sent, k.Handled));
        Assert.True(result.Kinds.Sum(k => k.Sent) == 120);
        Assert.True(result.Kinds.Count(k => k.Sent > 0) >= 8, "the mix should hold most kinds");
        Assert.True(result.RssGrowthBytes <= result.MaxRssGrowthBytes, $"resident memory grew by {result.RssGrowthBytes >> 20} MiB");
        Assert.True(result.Passed);
    }
}
