using System.Net;
using System.Text;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;
using R1Sharp.Arena;
using R1Sharp.Server;
using R1Sharp.Tests.Server;

namespace R1Sharp.Tests.Arena;

/// <summary>
/// The arena page in headless Chromium (Debian's chromium and chromium-driver, as the web chat's test) against a real
/// `r1 arena serve`: a prompt, two replies streamed side by side (the thinking folded as in the chat), a vote from the
/// keyboard, the names revealed, and the battle's row in the database; a second vote is refused; the leaderboard page
/// shows the table and its plot.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ArenaBrowserTests : IDisposable
{
    readonly TempDir folder = new("r1-arena-browser-");
    readonly (ChromeDriver Driver, TempDir Profile) chromium = WebChatBrowserTests.Launch();
    ChromeDriver browser => chromium.Driver;

    public void Dispose()
    {
        browser.Quit();
        chromium.Profile.Dispose();
        folder.Dispose();
    }

    [Fact]
    public async Task A_whole_battle_plays_through_the_page_and_lands_in_the_database()
    {
        var config = ArenaConfig.Parse(JsonSerializer.Serialize(new
        {
            contestants = new object[]
            {
                new { name = "reasoner", model = ServerTestModels.ReasoningDir },
                new { name = "noise", model = ServerTestModels.RandomDir, max_tokens = 24 },
            },
            temperature = 0, max_tokens = 100,
        }), "arena.json", folder);
        await using var server = await ArenaServer.StartAsync(config, new ArenaServerOptions(folder.File("arena.db")) { Port = 0, Seed = 5 });
        browser.Navigate().GoToUrl(new Uri(server.BaseAddress, "arena"));
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(90));

        var input = browser.FindElement(By.Id("input"));
        input.SendKeys("What is 2+2?");
        input.SendKeys(Keys.Enter);
        // Both replies stream into their own side and end; then the vote buttons appear, holding the focus.
        wait.Until(_ => browser.FindElements(By.CssSelector(".pane .message.assistant[data-finish]")).Count == 2 && browser.FindElement(By.Id("votes")).Displayed);
        Assert.Equal("What is 2+2?", browser.FindElement(By.Id("prompt")).Text);
        Assert.Equal("", browser.FindElement(By.Id("name-a")).Text); // anonymous until the vote
        Assert.Equal("", browser.FindElement(By.Id("name-b")).Text);
        Assert.Equal("model_a", browser.SwitchTo().ActiveElement().GetAttribute("data-vote"));
        string battleId = (string)browser.ExecuteScript("return document.body.dataset.battle")!;

        // The reasoning model's side looks as the chat shows a reply: its thinking folded above the rendered answer.
        var stored = server.Store.Find(battleId)!;
        string reasonerSide = stored.ModelA == "reasoner" ? "a" : "b";
        var reply = browser.FindElement(By.CssSelector($"#pane-{reasonerSide} .message.assistant"));
        Assert.Equal("stop", reply.GetAttribute("data-finish"));
        var thinking = reply.FindElement(By.CssSelector("details.thinking"));
        Assert.Null(thinking.GetAttribute("open"));
        Assert.Matches(@"^Thought for \d+(\.\d)? s$", thinking.FindElement(By.TagName("summary")).Text);
        Assert.Equal(ServerTestModels.Reasoning, thinking.FindElement(By.CssSelector(".thinking-body")).GetAttribute("textContent"));
        var answer = reply.FindElement(By.CssSelector(".answer"));
        Assert.StartsWith("The answer is 4, since", answer.Text);
        Assert.Equal("4", answer.FindElement(By.TagName("strong")).Text);
        Assert.NotEmpty(answer.FindElements(By.CssSelector(".katex")));

        // Vote from the keyboard: 1 is "A is better". Then the names show.
        new Actions(browser).SendKeys("1").Perform();
        wait.Until(_ => (bool)browser.ExecuteScript("return 'revealed' in document.body.dataset")!);
        Assert.Equal(stored.ModelA, browser.FindElement(By.Id("name-a")).Text);
        Assert.Equal(stored.ModelB, browser.FindElement(By.Id("name-b")).Text);
        Assert.Contains("You voted: A is better", browser.FindElement(By.Id("status")).Text);
        Assert.False(browser.FindElement(By.Id("votes")).Displayed);
        SaveScreenshot("arena-battle.png");

        // The row: both contestants, the prompt, both replies with their reasoning, the vote, its time and the voter.
        var row = server.Store.Find(battleId)!;
        Assert.Equal(Winner.ModelA, row.Winner);
        Assert.Equal(Judge.Human, row.Judge);
        Assert.Equal("What is 2+2?", row.Prompt);
        var reasonerReply = reasonerSide == "a" ? row.ReplyA! : row.ReplyB!;
        Assert.Equal((ServerTestModels.Reasoning, ServerTestModels.Answer), (reasonerReply.Reasoning, reasonerReply.Content));
        Assert.NotNull(reasonerSide == "a" ? row.ReplyB : row.ReplyA);
        Assert.NotNull(row.VotedAt);
        Assert.Matches("^[0-9a-f]{32}$", row.Voter);
        Assert.Single(server.Store.All());

        // A second vote on the battle, from the page's own origin and cookie, is refused.
        var second = (Dictionary<string, object>)browser.ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            fetch(`/arena/api/battles/${arguments[0]}/vote`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ winner: "model_b" }) })
              .then(async r => done({ status: r.status, body: await r.text() }));
            """, battleId)!;
        Assert.Equal(409L, second["status"]);
        Assert.Contains("already_voted", (string)second["body"]!);
        using (var http = new HttpClient { BaseAddress = server.BaseAddress })
        using (var again = await http.PostAsync($"arena/api/battles/{battleId}/vote", new StringContent("""{"winner": "tie"}""", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(Winner.ModelA, server.Store.Find(battleId)!.Winner);

        // The leaderboard page: the table, one plotted interval per model, the win-rate matrix.
        browser.Navigate().GoToUrl(new Uri(server.BaseAddress, "arena/leaderboard"));
        wait.Until(_ => browser.FindElements(By.CssSelector("#ratings tbody tr")).Count == 2);
        var names = browser.FindElements(By.CssSelector("#ratings tbody td.model-name")).Select(e => e.Text).ToList();
        Assert.Equal([stored.ModelA, stored.ModelB], names);
        Assert.Equal(2, browser.FindElements(By.CssSelector("#plot svg circle")).Count);
        Assert.Equal("1.00", browser.FindElement(By.CssSelector("#matrix tr:nth-child(2) td:nth-child(3)")).Text);
        SaveScreenshot("arena-leaderboard.png");
    }

    void SaveScreenshot(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "R1Sharp.sln"))) dir = dir.Parent;
        var results = Directory.CreateDirectory(Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults"));
        browser.GetScreenshot().SaveAsFile(Path.Combine(results.FullName, name));
    }
}
