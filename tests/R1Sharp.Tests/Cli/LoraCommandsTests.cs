using System.Security.Cryptography;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tests.Cli;

/// <summary>The LoRA flags of sft, grpo and distill, `r1 merge`, and --adapter on generate, eval, sample and export's input.</summary>
public class LoraCommandsTests : IDisposable
{
    readonly TempDir dir = new("r1-lora-cli-");

    public void Dispose() => dir.Dispose();

    static (int Exit, string Output) R1(params string[] args)
    {
        var output = new StringWriter();
        int exit = CliApp.Run(args, output);
        return (exit, output.ToString());
    }

    string NewModel(string arch = "llama")
    {
        string model = dir.File($"model-{arch}");
        Assert.Equal(0, CliApp.Run(["init", "--arch", arch, "--preset", "tiny", "--out", model, "--seed", "3"]));
        return model;
    }

    string SftData()
    {
        string data = dir.File("sft.jsonl");
        R1Sharp.Tasks.SftData.WriteJsonl(data, new ArithmeticTask().Examples(TaskSplit.Train, 1).Take(20));
        return data;
    }

    /// <summary>Every file of a folder and a hash of its bytes.</summary>
    static Dictionary<string, string> Hashes(string folder) => Directory.GetFiles(folder).ToDictionary(Path.GetFileName,
        f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))!;

    [Fact]
    public void Sft_with_lora_saves_a_peft_adapter_that_generate_merge_export_eval_and_sample_use()
    {
        string model = NewModel(), adapter = dir.File("adapter"), merged = dir.File("merged"), runs = dir.File("runs");
        var baseFiles = Hashes(model);
        string config = dir.File("sft.json");
        File.WriteAllText(config, """{"max_steps": 4, "batch_size": 4, "max_seq_length": 128, "eval_steps": 0, "save_steps": 2, "learning_rate": 1e-2}""");
        Assert.Equal(0, R1("sft", "--model", model, "--data", SftData(), "--config", config, "--runs-dir", runs, "--name", "s", "--out", adapter,
            "--lora-r", "4", "--lora-alpha", "16", "--lora-dropout", "0", "--lora-target-modules", "all-linear", "--use-rslora", "--gradient-checkpointing").Exit);

        // The out folder holds the adapter alone; the base is byte for byte what it was.
        Assert.Equal([PeftAdapter.ConfigFile, PeftAdapter.WeightsFile], Directory.GetFiles(adapter).Select(Path.GetFileName).Order());
        Assert.Equal(baseFiles, Hashes(model));
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "s", "config.json")))!;
        Assert.Equal((4, 16.0, "all-linear", true, true), ((int)saved["lora_r"]!, (double)saved["lora_alpha"]!, (string)saved["lora_target_modules"]!,
            (bool)saved["use_rslora"]!, (bool)saved["gradient_checkpointing"]!));
        var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, PeftAdapter.ConfigFile)))!;
        Assert.Equal(Path.GetFullPath(model), (string)adapterConfig["base_model_name_or_path"]!);
        Assert.True((bool)adapterConfig["use_rslora"]!);

        // Merged into the base: new weights, and the same greedy tokens as the base with the adapter.
        Assert.Equal(0, R1("merge", "--model", model, "--adapter", adapter, "--out", merged).Exit);
        Assert.NotEqual(Hashes(model)["model.safetensors"], Hashes(merged)["model.safetensors"]);
        string[] greedy = ["generate", "--prompt", "12+7=", "--temperature", "0", "--max-tokens", "12"];
        var withAdapter = R1([.. greedy, "--model", model, "--adapter", adapter]);
        Assert.Equal(0, withAdapter.Exit);
        Assert.Equal(withAdapter.Output, R1([.. greedy, "--model", merged]).Output);
        Assert.Equal(0, R1("export", "gguf", "--model", merged, "--out", dir.File("merged.gguf")).Exit);

        // eval and sample run the base with the adapter.
        Assert.Equal(0, R1("eval", "--model", model, "--adapter", adapter, "--task", "arithmetic", "--samples", "2", "--prompts", "3",
            "--max-tokens", "8", "--out", dir.File("eval")).Exit);
        Assert.True(File.Exists(dir.File("eval/eval.json")));
        Assert.Equal(0, R1("sample", "--model", model, "--adapter", adapter, "--task", "arithmetic", "--samples", "2", "--prompts", "3",
            "--max-tokens", "8", "--keep", "all", "--out", dir.File("traces.jsonl")).Exit);
        Assert.True(File.Exists(dir.File("traces.jsonl")));

        // Mistakes are exit code 2 with a message: an adapter as the model, a model as the adapter, merging over the base.
        Assert.Equal(2, R1("generate", "--model", adapter, "--prompt", "1").Exit);
        Assert.Equal(2, R1("generate", "--model", model, "--adapter", merged, "--prompt", "1").Exit);
        Assert.Equal(2, R1("merge", "--model", model, "--adapter", adapter, "--out", model).Exit);
        Assert.Equal(2, R1("sft", "--model", model, "--data", SftData(), "--config", config, "--runs-dir", runs, "--lora-r", "-1").Exit);
        Assert.Equal(2, R1("sft", "--model", model, "--data", SftData(), "--config", config, "--runs-dir", runs, "--lora-r", "4",
            "--lora-target-modules", "lm_head").Exit);
        Assert.Equal(baseFiles, Hashes(model));
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    public void Grpo_with_lora_trains_an_adapter_with_the_base_as_kl_reference(string arch)
    {
        string model = NewModel(arch), adapter = dir.File("grpo-adapter");
        var baseFiles = Hashes(model);
        Assert.Equal(0, R1("grpo", "--model", model, "--task", "arithmetic", "--runs-dir", dir.File("runs"), "--name", "g", "--out", adapter,
            "--num-generations", "2", "--prompts-per-step", "1", "--max-completion-length", "4", "--max-steps", "2", "--beta", "0.04",
            "--lora-r", "2", "--lora-target-modules", arch == "deepseek_v3" ? "q_b_proj,kv_b_proj,o_proj" : "q_proj,v_proj").Exit);
        Assert.Equal(baseFiles, Hashes(model));
        var header = SafeTensorsFile.ReadHeader(Path.Combine(adapter, PeftAdapter.WeightsFile));
        string[] modules = arch == "deepseek_v3" ? ["q_b_proj", "kv_b_proj", "o_proj"] : ["q_proj", "v_proj"];
        Assert.Equal(2 * 2 * modules.Length, header.Tensors.Count); // 2 layers × (A, B) × modules
        Assert.All(header.Tensors.Keys, k => Assert.Contains(k.Split('.')[^3], modules));
        Assert.Equal(0, R1("generate", "--model", model, "--adapter", adapter, "--prompt", "1+1=", "--temperature", "0", "--max-tokens", "4").Exit);
    }

    [Fact]
    public void Distill_with_lora_adapts_a_student_folder_and_refuses_a_fresh_preset()
    {
        string teacher = NewModel(), traces = dir.File("traces.jsonl"), adapter = dir.File("distilled");
        R1Sharp.Tasks.SftData.WriteJsonl(traces, new ArithmeticTask().Examples(TaskSplit.Train, 2).Take(12));
        string config = dir.File("distill.json");
        File.WriteAllText(config, """{"training": {"max_steps": 2, "batch_size": 4, "max_seq_length": 64, "eval_steps": 0, "save_steps": 0}}""");
        Assert.Equal(0, R1("distill", "--teacher", teacher, "--student", teacher, "--data", traces, "--config", config, "--runs-dir", dir.File("runs"),
            "--out", adapter, "--lora-r", "4").Exit);
        Assert.True(PeftAdapter.IsAdapter(adapter));
        Assert.Equal(2, R1("distill", "--teacher", teacher, "--student-preset", "half", "--data", traces, "--config", config, "--runs-dir", dir.File("runs"),
            "--lora-r", "4").Exit);
    }
}
