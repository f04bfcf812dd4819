using System.Numerics;
using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Gguf;

namespace R1Sharp.Tests.Cli;

/// <summary>
/// `r1 inspect` run in-process as a user runs it: the weight check on good and broken checkpoints (#13), hostile
/// config.json files (#20.6), huge configs' counts (#20.16) and hostile GGUF files (#20.8). Results come on standard
/// output, "error: …" on standard error; each run here captures both.
/// </summary>
public class InspectWeightCheckTests
{
    internal static (int Exit, string Output, string Errors) R1(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = CliApp.Run(args, output, errors);
        return (exit, output.ToString(), errors.ToString());
    }

    static string TinyModel(string arch = "llama")
    {
        string dir = Directory.CreateTempSubdirectory("r1-inspect-").FullName;
        Assert.Equal(0, CliApp.Run(["init", "--arch", arch, "--preset", "tiny", "--out", dir]));
        return dir;
    }

    static void EditConfig(string dir, string field, JsonNode? value)
    {
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json[field] = value;
        File.WriteAllText(path, json.ToJsonString());
    }

    static void AssertFailsNaming(string dir, params string[] parts)
    {
        var (exit, output, errors) = R1("inspect", dir);
        Assert.Equal(2, exit);
        Assert.StartsWith("error: ", errors);
        foreach (var part in parts) Assert.Contains(part, errors);
        Assert.Equal("", output); // nothing printed for a model that does not check out
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("deepseek_v3")]
    public void A_good_model_prints_the_table_and_the_weight_check(string arch)
    {
        var (exit, output, errors) = R1("inspect", TinyModel(arch));
        Assert.Equal(0, exit);
        Assert.Equal("", errors);
        Assert.Contains("total parameters", output);
        Assert.Contains("KV-cache bytes per token (bf16)", output);
        Assert.Contains("model.safetensors", output);
        string total = output.Split('\n').First(l => l.Contains("total parameters")).Split('│', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
        Assert.Contains($"weight check: OK: names, shapes, dtypes and byte ranges of", output);
        Assert.Contains($"parameters found {total}, config {total}", output);
    }

    [Fact]
    public void A_directory_without_weights_is_inspected_as_a_config()
    {
        string dir = TinyModel();
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var (exit, output, _) = R1("inspect", dir);
        Assert.Equal(0, exit);
        Assert.Contains("weights: none in", output);
    }

    [Fact]
    public void A_truncated_checkpoint_exits_2_naming_the_file_and_the_tensor()
    {
        string dir = TinyModel();
        string weights = Path.Combine(dir, "model.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^1000]);
        AssertFailsNaming(dir, weights, "tensor 'model.", "run past the end of the data section", "truncated");
    }

    [Fact]
    public void A_header_corrupt_checkpoint_exits_2_naming_the_file_and_the_tensor()
    {
        string dir = TinyModel();
        string weights = Path.Combine(dir, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        string text = System.Text.Encoding.Latin1.GetString(bytes);
        int at = text.IndexOf("\"data_offsets\":[", StringComparison.Ordinal) + "\"data_offsets\":[".Length;
        bytes[at] = (byte)'7'; // the first tensor now starts where it can't
        File.WriteAllBytes(weights, bytes);
        AssertFailsNaming(dir, weights, "tensor 'lm_head.weight'", "data_offsets [7, ");
    }

    [Fact]
    public void A_wrong_shape_checkpoint_exits_2_naming_the_file_the_tensor_and_the_shapes()
    {
        string dir = TinyModel();
        EditConfig(dir, "hidden_size", 128);
        AssertFailsNaming(dir, "the weights do not match config.json",
            "model.safetensors: tensor 'model.embed_tokens.weight' has shape [", "but config.json makes it [", ", 128]");
    }

    [Theory]
    [InlineData("vocab_size", "2e9")]
    [InlineData("hidden_size", "1073741824")]
    [InlineData("num_hidden_layers", "1e9")]
    [InlineData("rms_norm_eps", "-1e-6")]
    [InlineData("rope_theta", "0")]
    public void A_hostile_config_exits_2_naming_the_field_before_anything_is_allocated(string field, string value)
    {
        string dir = TinyModel();
        EditConfig(dir, field, JsonNode.Parse(value));
        AssertFailsNaming(dir, "config.json", $"'{field}'");
        // Loading the model for generation refuses it the same way.
        var (exit, _, errors) = R1("generate", "--model", dir, "--prompt", "x", "--max-tokens", "1");
        Assert.Equal(2, exit);
        Assert.Contains($"'{field}'", errors);
    }

    [Fact]
    public void Huge_configs_show_exact_positive_counts_and_larger_ones_are_refused()
    {
        // The largest llama config the bounds allow: 2.3e14 parameters, counted in checked 64-bit arithmetic.
        string dir = Directory.CreateTempSubdirectory("r1-inspect-huge-").FullName;
        const long vocab = 1 << 22, hidden = 1 << 16, ffn = 1 << 20, layers = 1 << 10, heads = 64;
        File.WriteAllText(Path.Combine(dir, "config.json"), new JsonObject
        {
            ["model_type"] = "llama", ["vocab_size"] = vocab, ["hidden_size"] = hidden, ["intermediate_size"] = ffn,
            ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["num_key_value_heads"] = heads,
            ["max_position_embeddings"] = 4096,
        }.ToJsonString());
        var (exit, output, _) = R1("inspect", dir);
        Assert.Equal(0, exit);
        BigInteger perLayer = 4 * (BigInteger)hidden * hidden + 3 * (BigInteger)hidden * ffn + 2 * hidden;
        BigInteger expected = layers * perLayer + 2 * (BigInteger)vocab * hidden + hidden;
        Assert.Contains($"{(long)expected:N0}", output);
        Assert.DoesNotContain("-", output.Split('\n').First(l => l.Contains("total parameters")));

        EditConfig(dir, "hidden_size", 1 << 30);
        Assert.Equal(2, R1("inspect", dir).Exit);
    }

    [Fact]
    public void A_hostile_gguf_prints_a_bounded_summary_with_control_characters_escaped()
    {
        string dir = Directory.CreateTempSubdirectory("r1-inspect-gguf-").FullName;
        string path = Path.Combine(dir, "hostile.gguf");
        var writer = new GgufWriter();
        writer.Add(new string('k', 60_000), GgufValue.String("long key"));
        for (int i = 0; i < 300; i++) writer.Add($"key.{i}", GgufValue.String($"value {i}\u001b[31m red\u0007\nerror: forged line {i}"));
        writer.Add("big.string", GgufValue.String(new string('v', 100_000)));
        writer.Add("evil\u001b]0;pwned\u0007", GgufValue.Strings(["\u001b[2J", "\r\n", "\u202Ereversed"]));
        writer.AddTensor("t\u001b[1m\nforged", [4], GgmlType.F32, () => new byte[16]);
        writer.Write(path);

        var (exit, output, errors) = R1("inspect", path);
        Assert.Equal(0, exit);
        Assert.Equal("", errors);
        Assert.True(output.Length < 100_000, $"{output.Length:N0} characters printed for a {new FileInfo(path).Length:N0}-byte file");
        Assert.DoesNotContain(output, c => char.IsControl(c) && c is not ('\n' or '\r'));
        Assert.DoesNotContain('\u202E', output);
        Assert.DoesNotContain("\nerror: forged", output);
        Assert.Contains("... (60,000 chars)", output);
        Assert.Contains("\\u001B", output);
        // One line per key and per tensor, none forged: 303 keys + the alignment key, one tensor.
        Assert.Equal(304, output.Split('\n').Count(l => l.StartsWith("  ") && !l.StartsWith("  t\\u001B")));
        Assert.Single(output.Split('\n'), l => l.StartsWith("  t\\u001B[1m\\nforged"));
    }

    [Fact]
    public void A_truncated_gguf_exits_2_naming_the_file_and_the_escaped_tensor()
    {
        string dir = Directory.CreateTempSubdirectory("r1-inspect-gguf-").FullName;
        string path = Path.Combine(dir, "cut.gguf");
        var writer = new GgufWriter();
        writer.AddTensor("a", [64], GgmlType.F32, () => new byte[256]);
        writer.AddTensor("b\u001b[2J", [64], GgmlType.F32, () => new byte[256]);
        writer.Write(path);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^100]);
        var (exit, _, errors) = R1("inspect", path);
        Assert.Equal(2, exit);
        Assert.Contains(path, errors);
        Assert.Contains("tensor 'b\\u001B[2J'", errors);
        Assert.Contains("truncated", errors);
        Assert.DoesNotContain('\u001b', errors);
    }
}
