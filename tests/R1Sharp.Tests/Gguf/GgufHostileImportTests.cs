using R1Sharp.Checkpoints;
using R1Sharp.Gguf;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// GGUF files that parse but lie — about hyper-parameters, tensor types, shapes, names, token ids, the tokenizer — and
/// files corrupted at random: loading gives an <see cref="R1Error"/> naming the problem (or, for a harmless flip, a
/// model), never another exception, a hang or an allocation sized by the lie.
/// </summary>
public class GgufHostileImportTests
{
    /// <summary>A valid Q8_0 qwen2 file (tensor types to spare: K-quants need whole 256-blocks, this has 64-wide rows).</summary>
    static string ValidFile(TempDir dir)
    {
        using var model = GgufTestModels.Create("qwen2");
        string f32 = GgufTestModels.Export(model, dir.Path);
        string q8 = dir.File("valid.gguf");
        GgufQuantizer.Quantize(f32, q8, GgufDType.Q8_0);
        return q8;
    }

    /// <summary>
    /// A copy of <paramref name="source"/> with metadata edited (null drops a key) and tensors edited (null drops one):
    /// the edit gets a tensor's name, PyTorch shape, type and bytes and returns them, changed or not.
    /// </summary>
    static string Rewrite(TempDir dir, string source, Func<string, GgufValue, GgufValue?>? metadata = null,
        Func<(string Name, long[] Shape, GgmlType Type, byte[] Bytes), (string Name, long[] Shape, GgmlType Type, byte[] Bytes)?>? tensors = null)
    {
        var file = GgufReader.Read(source);
        var writer = new GgufWriter();
        foreach (var (key, value) in file.Metadata)
        {
            if (key == "general.alignment") continue;
            if ((metadata is null ? value : metadata(key, value)) is { } kept) writer.Add(key, kept);
        }
        foreach (var t in file.Tensors)
        {
            var edited = tensors is null ? (t.Name, t.Shape, t.Type, file.ReadTensorBytes(t)) : tensors((t.Name, t.Shape, t.Type, file.ReadTensorBytes(t)));
            if (edited is { } e) writer.AddTensor(e.Name, e.Shape, e.Type, () => e.Bytes);
        }
        string path = dir.File($"hostile-{Guid.NewGuid():N}.gguf");
        writer.Write(path);
        return path;
    }

    static void AssertRefused(string path, params string[] mentions)
    {
        var error = Assert.Throws<R1Error>(() => ModelBundle.Load(path).Dispose());
        foreach (string mention in mentions) Assert.Contains(mention, error.Message);
    }

    [Fact]
    public void AbsurdHyperParametersAreRefusedBeforeAnythingIsAllocated()
    {
        using var dir = new TempDir();
        string valid = ValidFile(dir);
        GgufValue? Set(string key, string target, GgufValue value, GgufValue original) => key == target ? value : original;
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.context_length", GgufValue.U32(2_000_000_000), v)), "context_length");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.block_count", GgufValue.U32(4_000_000_000), v)), "block_count");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.block_count", GgufValue.U32(3), v)), "blk.2.");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.embedding_length", GgufValue.U32(1 << 20), v)), "token_embd.weight");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.attention.head_count", GgufValue.U32(0), v)), "num_attention_heads");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.attention.head_count_kv", GgufValue.U32(3), v)), "num_key_value_heads");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.feed_forward_length", GgufValue.Int32s([128, 128]), v)), "feed_forward_length");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "qwen2.vocab_size", GgufValue.U32(16_000_000), v)), "token_embd.weight");
        AssertRefused(Rewrite(dir, valid, (k, v) => Set(k, "general.architecture", GgufValue.String("mamba"), v)), "architecture 'mamba'");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "qwen2.block_count" ? null : v), "qwen2.block_count");
    }

    [Fact]
    public void TensorsOfTheWrongTypeShapeOrNameAreRefused()
    {
        using var dir = new TempDir();
        string valid = ValidFile(dir);
        // A type the reader knows but R1Sharp cannot compute with (IQ4_NL blocks have Q4_0's size).
        AssertRefused(Rewrite(dir, valid, tensors: t => t.Name == "blk.0.attn_q.weight" ? t with { Type = GgmlType.IQ4_NL, Bytes = new byte[t.Bytes.Length * 18 / 34] } : t),
            "blk.0.attn_q.weight", "IQ4_NL");
        AssertRefused(Rewrite(dir, valid, tensors: t => t.Name == "blk.1.ffn_down.weight" ? t with { Shape = [t.Shape[1], t.Shape[0]] } : t), "blk.1.ffn_down.weight", "expected");
        AssertRefused(Rewrite(dir, valid, tensors: t => t.Name == "blk.0.attn_k.bias" ? null : t), "blk.0.attn_k.bias", "not found");
        AssertRefused(Rewrite(dir, valid, tensors: t => t.Name == "output_norm.weight" ? t with { Name = "blk.0.attn_post_norm.weight" } : t), "output_norm.weight");
        AssertRefused(Rewrite(dir, valid, tensors: t => t.Name == "token_embd.weight" ? t with { Shape = [t.Shape[0] * t.Shape[1]] } : t), "token_embd.weight");
    }

    [Fact]
    public void LyingTokenizerMetadataIsRefused()
    {
        using var dir = new TempDir();
        string valid = ValidFile(dir);
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.bos_token_id" ? GgufValue.U32(1_000_000) : v), "bos_token_id");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.pre" ? GgufValue.String("made-up") : v), "made-up");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.model" ? GgufValue.String("llama") : v), "tokenizer.ggml.model");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.merges" ? GgufValue.Strings(["a b c"]) : v), "merge");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.token_type" ? GgufValue.Int32s([1, 1]) : v), "token_type");
        AssertRefused(Rewrite(dir, valid, (k, v) => k == "tokenizer.ggml.tokens" ? GgufValue.Strings(((string[])v.Value).Select(_ => "x")) : v), "token");
    }

    /// <summary>
    /// A chat template that loops (almost) forever, builds a huge string, or does not parse: the model loads (the
    /// template is only text until a chat is rendered), and rendering a chat stops at the renderer's limits with an
    /// error naming them — no hang, no gigabytes.
    /// </summary>
    [Theory]
    [InlineData("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}", "loop iterations")]
    [InlineData("{% for i in range(1000000000) %}x{% endfor %}", "limit")]
    [InlineData("{% set s = namespace(t='x') %}{% for i in range(64) %}{% set s.t = s.t ~ s.t %}{% endfor %}{{ s.t }}", "characters")]
    [InlineData("{{ 'x' * 2000000000 }}", "characters")]
    [InlineData("{% for m in messages %}{{ m.content ", "template")]
    public void HostileChatTemplatesStopWithAClearError(string template, string mention)
    {
        using var dir = new TempDir();
        string path = Rewrite(dir, ValidFile(dir), (k, v) => k == "tokenizer.chat_template" ? GgufValue.String(template) : v);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = Assert.Throws<R1Error>(() =>
        {
            using var bundle = ModelBundle.Load(path);
            bundle.EncodeChat([new R1Sharp.Tokenizers.ChatMessage("user", "hi")]);
        });
        Assert.Contains(mention, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"took {clock.Elapsed}");
    }

    /// <summary>Random single-byte corruptions anywhere in the file: each load either succeeds or names its problem.</summary>
    [Fact]
    public void RandomCorruptionsGiveAModelOrAClearError()
    {
        using var dir = new TempDir();
        byte[] original = File.ReadAllBytes(ValidFile(dir));
        var random = new Random(17);
        int refused = 0;
        for (int trial = 0; trial < 120; trial++)
        {
            var bytes = (byte[])original.Clone();
            // Half the flips hit the header, where a lie matters most; the rest anywhere.
            int at = trial % 2 == 0 ? random.Next(Math.Min(bytes.Length, 4096)) : random.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << random.Next(8));
            string path = dir.File($"corrupt-{trial}.gguf");
            File.WriteAllBytes(path, bytes);
            try
            {
                ModelBundle.Load(path).Dispose();
            }
            catch (R1Error)
            {
                refused++;
            }
            File.Delete(path);
        }
        Assert.True(refused > 0, "no corruption was noticed");
    }
}
