using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using R1Sharp.Server;

namespace R1Sharp.Tests.Server;

/// <summary>
/// The web chat in headless Chromium (Debian's chromium and chromium-driver; .ci/install puts them there) against the
/// real server: the thinking block and the answer appear, the block folds when the answer begins and unfolds on a
/// click, markdown and math are rendered, stop ends a reply. The screenshot is kept in TestResults/.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class WebChatBrowserTests(ServerFixture servers) : IDisposable
{
    readonly (ChromeDriver Driver, TempDir Profile) chromium = Launch();
    ChromeDriver browser => chromium.Driver;

    /// <summary>Headless Chromium with a fresh profile folder (the arena's browser test uses it too).</summary>
    internal static (ChromeDriver, TempDir) Launch()
    {
        var profile = new TempDir("r1sharp-chromium-");
        const string chromium = "/usr/bin/chromium", driver = "/usr/bin/chromedriver";
        if (!File.Exists(chromium) || !File.Exists(driver))
            throw new InvalidOperationException("the browser test needs Debian's chromium and chromium-driver: run .ci/install (apt-get install chromium chromium-driver)");
        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1100,800",
            "--user-data-dir=" + profile.Path);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return (new ChromeDriver(service, options, TimeSpan.FromSeconds(60)), profile);
    }

    public void Dispose()
    {
        browser.Quit();
        chromium.Profile.Dispose();
    }

    [Fact]
    public void The_thinking_shows_above_the_answer_folds_when_the_answer_begins_and_unfolds_on_click()
    {
        Open(servers.Reasoning);
        SetControls(temperature: 0, maxTokens: 10);
        Ask("What is 2+2?");
        // Ten tokens are not enough to finish thinking: the block stays open and nothing is answered yet.
        var cut = WaitForReply();
        Assert.Equal("length", cut.GetAttribute("data-finish"));
        var thinking = cut.FindElement(By.CssSelector("details.thinking"));
        Assert.Equal("true", thinking.GetAttribute("open"));
        Assert.Equal(ServerTestModels.Reasoning[..10], thinking.FindElement(By.CssSelector(".thinking-body")).Text);
        Assert.Equal("", cut.FindElement(By.CssSelector(".answer")).Text);

        browser.FindElement(By.Id("new-chat")).Click();
        Assert.Empty(browser.FindElements(By.CssSelector(".message")));
        SetControls(temperature: 0, maxTokens: 200);
        Ask("What is 2+2?");
        var reply = WaitForReply();
        Assert.Equal("stop", reply.GetAttribute("data-finish"));
        thinking = reply.FindElement(By.CssSelector("details.thinking"));
        var summary = thinking.FindElement(By.TagName("summary"));
        Assert.Null(thinking.GetAttribute("open"));
        Assert.Matches(@"^Thought for \d+(\.\d)? s$", summary.Text);
        Assert.Equal(ServerTestModels.Reasoning, thinking.FindElement(By.CssSelector(".thinking-body")).GetAttribute("textContent"));
        // The thinking sits above the answer; the answer's markdown and LaTeX are rendered.
        var answer = reply.FindElement(By.CssSelector(".answer"));
        Assert.True(thinking.Location.Y < answer.Location.Y);
        Assert.StartsWith("The answer is 4, since", answer.Text);
        Assert.Equal("4", answer.FindElement(By.TagName("strong")).Text);
        Assert.NotEmpty(answer.FindElements(By.CssSelector(".katex")));
        Assert.DoesNotContain("$", answer.Text);

        summary.Click();
        Assert.Equal("true", thinking.GetAttribute("open"));
        Assert.True(thinking.FindElement(By.CssSelector(".thinking-body")).Displayed);
        SaveScreenshot("serve-web-chat.png");
        summary.Click();
        Assert.Null(thinking.GetAttribute("open"));
        Assert.False(thinking.FindElement(By.CssSelector(".thinking-body")).Displayed);
    }

    [Fact]
    public void Stop_ends_a_long_reply_and_frees_the_server()
    {
        Open(servers.Random);
        SetControls(temperature: 0, maxTokens: 64000);
        Ask("hello");
        // Polled often, so the click comes while the reply still runs (a fast model under load could finish it).
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30)) { PollingInterval = TimeSpan.FromMilliseconds(20) };
        // The random model's noise may or may not close its thinking: wait for text in either part.
        wait.Until(_ => browser.FindElements(By.CssSelector(".message.assistant")).FirstOrDefault()?.GetAttribute("textContent")?.Length > 40);
        browser.FindElement(By.Id("stop")).Click();
        var reply = WaitForReply();
        Assert.Equal("stopped", reply.GetAttribute("data-finish"));
        Assert.True(browser.FindElement(By.Id("send")).Displayed);
        wait.Until(_ => servers.Random.Service.Batcher.ActiveRows == 0);
    }

    [Fact]
    public void A_hostile_reply_renders_its_math_as_text_nodes_and_injects_no_element_or_attribute()
    {
        Open(servers.Reasoning);
        // A model can be made to write anything; the page gets this reply as the server would stream it.
        const string hostile =
            "Euler: $e^{i\\pi}+1=0$, a stray \uE0009\uE001 holder and a lone \uE000.\n\n" +
            "<a title=\"$\\alpha$\" href=\"https://example.com/\">link</a> <img alt=\"$x$\" src=\"data:,\"> " +
            "<span data-note=\"$$\\frac{1}{2}$$\">half</span> `code`";
        browser.ExecuteScript("""
            const reply = arguments[0], realFetch = window.fetch;
            window.fetch = (url, init) => {
              if (!String(url).includes("chat/completions")) return realFetch(url, init);
              const events = [{ role: "assistant", content: "" }, { content: reply }, {}]
                .map((delta, i) => ({ choices: [{ index: 0, delta, finish_reason: i === 2 ? "stop" : null }] }))
                .map(chunk => "data: " + JSON.stringify(chunk) + "\n\n").join("") + "data: [DONE]\n\n";
              return Promise.resolve(new Response(events, { headers: { "Content-Type": "text/event-stream" } }));
            };
            """, hostile);
        Ask("Say something hostile.");
        var reply = WaitForReply();
        Assert.Equal("stop", reply.GetAttribute("data-finish"));
        var answer = reply.FindElement(By.CssSelector(".answer"));
        Assert.Contains("stray", answer.Text);
        Assert.Contains("holder and a lone", answer.Text);
        // Only the formula in the text is rendered; the ones in attributes stay inert characters there.
        Assert.Single(answer.FindElements(By.CssSelector(".katex")));
        string Attributes(string selector) => string.Join(" ", (IEnumerable<object>)browser.ExecuteScript(
            "return [...arguments[0].querySelector(arguments[1]).attributes].map(a => a.name).sort()", answer, selector)!);
        Assert.Equal("href title", Attributes("a"));
        Assert.Equal("alt src", Attributes("img"));
        Assert.Equal("data-note", Attributes("span[data-note]"));
        Assert.DoesNotContain("<", answer.FindElement(By.TagName("a")).GetAttribute("title"));
        var tags = (IEnumerable<object>)browser.ExecuteScript(
            "return [...arguments[0].querySelectorAll('*')].filter(e => !e.closest('.katex')).map(e => e.tagName.toLowerCase())", answer)!;
        Assert.Equal(["p", "span", "p", "a", "img", "span", "code"], tags.Cast<string>());
        Assert.Equal(0L, browser.ExecuteScript(
            "return [...arguments[0].querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length", answer));
    }

    void Open(R1Server server)
    {
        browser.Navigate().GoToUrl(server.BaseAddress);
        new WebDriverWait(browser, TimeSpan.FromSeconds(30)).Until(_ => browser.FindElement(By.Id("model")).Text == server.Service.ModelId);
    }

    void SetControls(double temperature, int maxTokens)
    {
        // A range input is set like a user's drag ends: value, then an input event.
        browser.ExecuteScript("const t = document.getElementById('temperature'); t.value = arguments[0]; t.dispatchEvent(new Event('input'));", temperature);
        var max = browser.FindElement(By.Id("max-tokens"));
        max.Clear();
        max.SendKeys(maxTokens.ToString());
    }

    void Ask(string question)
    {
        var input = browser.FindElement(By.Id("input"));
        input.SendKeys(question);
        input.SendKeys(Keys.Enter);
    }

    IWebElement WaitForReply() => new WebDriverWait(browser, TimeSpan.FromSeconds(60))
        .Until(_ => browser.FindElements(By.CssSelector(".message.assistant[data-finish]")).LastOrDefault());

    void SaveScreenshot(string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(RepositoryRoot(), "TestResults"));
        browser.GetScreenshot().SaveAsFile(Path.Combine(dir.FullName, name));
    }

    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "R1Sharp.sln"))) dir = dir.Parent;
        return dir?.FullName ?? AppContext.BaseDirectory;
    }
}
