using Parquet.Serialization;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tasks;

public sealed class DatasetTaskTests : IDisposable
{
    readonly TempDir _dir = new("r1-datasets-");

    public void Dispose() => _dir.Dispose();

    string Write(string name, params string[] lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Reads_gsm8k_layout()
    {
        string path = Write("gsm8k.jsonl",
            """{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"}""",
            "",
            """{"question": "Tom has 1,000 marbles and gives away 1. How many are left?", "answer": "1000 - 1 = 999\n#### 999"}""");
        var task = DatasetTask.Load(path);
        Assert.Equal(DatasetLayout.Gsm8k, task.Layout);
        Assert.Equal("gsm8k", task.Name);
        Assert.Equal(2, task.All.Count);
        var first = task.All[0];
        Assert.Equal("72", first.Answer);
        Assert.Equal("gsm8k-1", first.Id);
        Assert.EndsWith(new DatasetOptions().Instruction, first.Prompt.Single().Content);
        Assert.DoesNotContain("<<", first.Solution);
        Assert.True(task.IsCorrect(first.Solution!, first.Answer));
        Assert.True(task.IsCorrect("They sold 72 in total.\n#### 72", first.Answer));
        Assert.False(task.IsCorrect("#### 24", first.Answer));
    }

    [Fact]
    public void Reads_math_layout_with_and_without_an_answer_field()
    {
        string path = Write("math500.jsonl",
            """{"problem": "Compute $\\frac{1}{2}+\\frac{1}{4}$.", "solution": "We get $\\frac{2}{4}+\\frac{1}{4}=\\boxed{\\frac{3}{4}}$.", "answer": "\\frac{3}{4}", "level": 1, "unique_id": "test/algebra/1.json"}""",
            """{"problem": "Find the distance from the origin to $(3,4)$.", "solution": "It is $\\sqrt{9+16}=\\boxed{5}$.", "level": "Level 3"}""");
        var task = DatasetTask.Load(path);
        Assert.Equal(DatasetLayout.Math, task.Layout);
        Assert.Equal("test/algebra/1.json", task.All[0].Id);
        Assert.Equal("\\frac{3}{4}", task.All[0].Answer);
        Assert.Equal(1, task.All[0].Difficulty);
        Assert.Equal("5", task.All[1].Answer);
        Assert.Equal(3, task.All[1].Difficulty);
        Assert.True(task.IsCorrect("<think>add</think>The answer is $\\boxed{0.75}$", task.All[0].Answer));
    }

    [Fact]
    public void Reads_generic_prompt_and_messages_layouts()
    {
        string path = Write("generic.jsonl",
            """{"prompt": "What is 6*7?", "answer": 42}""",
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}], "answer": "4"}""");
        var task = DatasetTask.Load(path);
        Assert.Equal(DatasetLayout.Generic, task.Layout);
        Assert.Equal("42", task.All[0].Answer);
        Assert.Equal([ChatMessage.User("What is 6*7?")], task.All[0].Prompt);
        Assert.Equal(2, task.All[1].Prompt.Count);
        Assert.Equal("What is 2+2?", task.All[1].UserText);
    }

    sealed class MathRow
    {
        public string? problem { get; set; }
        public string? solution { get; set; }
        public string? answer { get; set; }
        public string? level { get; set; }
    }

    sealed class Message
    {
        public string? role { get; set; }
        public string? content { get; set; }
    }

    sealed class ChatRow
    {
        public List<Message>? messages { get; set; }
        public string? answer { get; set; }
    }

    [Fact]
    public async Task Reads_parquet_files()
    {
        string mathPath = Path.Combine(_dir, "math.parquet");
        await using (var stream = File.Create(mathPath))
            await ParquetSerializer.SerializeAsync(new[]
            {
                new MathRow { problem = "What is $2^{10}$?", solution = "$2^{10}=\\boxed{1024}$", level = "Level 2" },
                new MathRow { problem = "Simplify $\\sqrt{12}$.", solution = "$\\boxed{2\\sqrt{3}}$", answer = "2\\sqrt{3}", level = "Level 4" },
            }, stream);
        var math = DatasetTask.Load(mathPath);
        Assert.Equal(["1024", "2\\sqrt{3}"], math.All.Select(e => e.Answer));
        Assert.Equal([2, 4], math.All.Select(e => e.Difficulty));

        string chatPath = Path.Combine(_dir, "chat.parquet");
        await using (var stream = File.Create(chatPath))
            await ParquetSerializer.SerializeAsync(new[]
            {
                new ChatRow { messages = [new Message { role = "user", content = "What is 3+4?" }], answer = "7" },
            }, stream);
        var chat = DatasetTask.Load(chatPath);
        Assert.Equal("What is 3+4?", chat.All[0].UserText);
        Assert.Equal("7", chat.All[0].Answer);

        string badPath = Path.Combine(_dir, "bad.parquet");
        await using (var stream = File.Create(badPath))
            await ParquetSerializer.SerializeAsync(new[] { new MathRow { problem = "No answer here", solution = "none" } }, stream);
        var error = Assert.Throws<R1Error>(() => DatasetTask.Load(badPath));
        Assert.Contains("bad.parquet row 1", error.Message);
        Assert.Contains("'solution'", error.Message);
    }

    [Theory]
    [InlineData("""{"question": "q", "answer": "no final line"}""", "'answer'")]
    [InlineData("""{"question": "q"}""", "layout")]
    [InlineData("""{"problem": "p", "solution": "no box"}""", "'solution'")]
    [InlineData("""{"problem": ["p"], "answer": "1"}""", "'problem'")]
    [InlineData("""{"prompt": "p"}""", "missing field 'answer'")]
    [InlineData("""{"messages": [{"role": "user"}], "answer": "1"}""", "'messages[0]'")]
    [InlineData("""{"question": "q", "answer": "#### 1"}""", null)]
    public void A_bad_record_names_file_line_and_field(string badLine, string? expectedField)
    {
        string path = Write("data.jsonl", """{"question": "ok", "answer": "#### 1"}""", badLine);
        if (expectedField is null)
        {
            Assert.Equal(2, DatasetTask.Load(path).All.Count);
            return;
        }
        // The first line fixes the layout (GSM8K); other layouts' lines then lack GSM8K fields. Test each alone too.
        var error = Assert.Throws<R1Error>(() => DatasetTask.Load(path));
        Assert.Contains("data.jsonl:2", error.Message);
        string alone = Write("alone.jsonl", badLine);
        var aloneError = Assert.Throws<R1Error>(() => DatasetTask.Load(alone));
        Assert.Contains("alone.jsonl:1", aloneError.Message);
        Assert.Contains(expectedField, aloneError.Message);
    }

    [Fact]
    public void Bad_json_and_missing_files_are_user_errors()
    {
        string path = Write("broken.jsonl", """{"prompt": "p", "answer": "1"}""", "{not json");
        Assert.Contains("broken.jsonl:2", Assert.Throws<R1Error>(() => DatasetTask.Load(path)).Message);
        Assert.Contains("not found", Assert.Throws<R1Error>(() => DatasetTask.Load(Path.Combine(_dir, "nope.jsonl"))).Message);
        Assert.Contains(".csv", Assert.Throws<R1Error>(() => DatasetTask.Load(Write("x.csv", "a,b"))).Message);
    }
}
