using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// Which linear layers a LoRA adapter wraps, in PEFT's three forms of <c>target_modules</c>: a list of names (a module
/// matches when its path is a name or ends with "." + a name), a regular expression matched against the whole module
/// path, or "all-linear" (every projection of the decoder layers; never lm_head). In JSON: "all-linear", a regex
/// string, or an array of names.
/// </summary>
[JsonConverter(typeof(LoraTargetModulesJson))]
public sealed record LoraTargetModules
{
    public const string AllLinearName = "all-linear";

    /// <summary>Module names, or null.</summary>
    public IReadOnlyList<string>? Names { get; private init; }
    /// <summary>A regular expression over the whole module path, or null.</summary>
    public string? Pattern { get; private init; }
    public bool IsAllLinear => Names is null && Pattern is null;

    /// <summary>Every projection: q/k/v/o and gate/up/down; for DeepSeek its MLA projections and every expert's.</summary>
    public static readonly LoraTargetModules AllLinear = new();

    public static LoraTargetModules Of(IEnumerable<string> names)
    {
        var list = names.Select(n => n.Trim()).Where(n => n.Length > 0).Distinct().ToList();
        if (list.Count == 0) throw new R1Error("lora_target_modules: the list of module names is empty");
        return new LoraTargetModules { Names = list };
    }

    public static LoraTargetModules Regex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new R1Error($"lora_target_modules: '{pattern}' is not a valid regular expression ({e.Message})", e);
        }
        return new LoraTargetModules { Pattern = pattern };
    }

    /// <summary>
    /// A command-line value: "all-linear"; names separated by commas ("q_proj,v_proj"); or, when it holds anything but
    /// name characters and commas, a regular expression (".*\.(q|v)_proj").
    /// </summary>
    public static LoraTargetModules Parse(string text)
    {
        text = text.Trim();
        if (text == AllLinearName) return AllLinear;
        return text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ',' or ' ') ? Of(text.Split(',')) : Regex(text);
    }

    /// <summary>A regex from an adapter file is untrusted: it may not run for long.</summary>
    static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Whether the module at <paramref name="path"/> (e.g. model.layers.0.self_attn.q_proj) is a target.</summary>
    public bool Matches(string path)
    {
        if (Names is not null) return Names.Any(n => path == n || path.EndsWith("." + n, StringComparison.Ordinal));
        if (Pattern is null) return true;
        try
        {
            return System.Text.RegularExpressions.Regex.IsMatch(path, $"^(?:{Pattern})$", RegexOptions.None, MatchTimeout);
        }
        catch (RegexMatchTimeoutException)
        {
            throw new R1Error($"lora_target_modules: the regular expression '{Pattern}' takes too long to match '{path}'");
        }
    }

    public override string ToString() => Names is not null ? string.Join(",", Names) : Pattern ?? AllLinearName;
}

/// <summary>Reads and writes <see cref="LoraTargetModules"/> as PEFT's JSON: a string or an array of names.</summary>
public sealed class LoraTargetModulesJson : JsonConverter<LoraTargetModules>
{
    public override LoraTargetModules Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            string text = reader.GetString()!;
            return text == LoraTargetModules.AllLinearName ? LoraTargetModules.AllLinear : LoraTargetModules.Regex(text);
        }
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected \"all-linear\", a regex string or an array of module names");
        var names = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String) throw new JsonException("module names must be strings");
            names.Add(reader.GetString()!);
        }
        return LoraTargetModules.Of(names);
    }

    public override void Write(Utf8JsonWriter writer, LoraTargetModules value, JsonSerializerOptions options)
    {
        if (value.Names is { } names)
        {
            writer.WriteStartArray();
            foreach (var name in names) writer.WriteStringValue(name);
            writer.WriteEndArray();
        }
        else writer.WriteStringValue(value.ToString());
    }
}

/// <summary>
/// A LoRA adapter's shape (PEFT's <c>LoraConfig</c>): rank r, alpha, dropout on the adapter's input while training, the
/// wrapped modules, and rank-stabilised scaling. The update of a wrapped projection W is scaling · B·A, with scaling
/// alpha / r, or alpha / √r with <paramref name="UseRslora"/>.
/// </summary>
public sealed record LoraSettings(int Rank, double Alpha, double Dropout = 0, LoraTargetModules? Targets = null, bool UseRslora = false)
{
    public LoraTargetModules TargetModules => Targets ?? LoraTargetModules.AllLinear;

    public double Scaling => UseRslora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    public LoraSettings Validate()
    {
        if (Rank < 1) throw new R1Error($"option lora_r = {Rank} must be at least 1");
        if (!double.IsFinite(Alpha) || Alpha <= 0) throw new R1Error($"option lora_alpha = {Alpha} must be above 0");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new R1Error($"option lora_dropout = {Dropout} must be in [0, 1)");
        return this;
    }
}

/// <summary>One wrapped projection's pair: lora_A [r, in] and lora_B [out, r], PEFT's names and layout.</summary>
public sealed class LoraLayer : nn.Module
{
    readonly Parameter lora_A;
    readonly Parameter lora_B;

    public LoraLayer(long inFeatures, long outFeatures, int rank) : base(nameof(LoraLayer))
    {
        lora_A = new Parameter(zeros(rank, inFeatures));
        lora_B = new Parameter(zeros(outFeatures, rank));
        RegisterComponents();
    }

    public Parameter A => lora_A;
    public Parameter B => lora_B;
    public long InFeatures => lora_A.shape[1];
    public long OutFeatures => lora_B.shape[0];
}

/// <summary>
/// A LoRA adapter of one model (Hu et al., 2021, as PEFT implements it): for each wrapped projection y = x·Wᵀ (+ b), a
/// pair A, B with y += scaling · B(A(dropout(x))). The base weights are untouched; the adapter is a module of its own
/// (its parameters are all a LoRA trainer optimizes) and reaches the model through forward hooks on the wrapped
/// <see cref="Projection"/> layers, whose callers use <c>call</c>. A fresh adapter has B = 0, so it changes nothing.
/// <para>
/// Several adapters can be attached to one model (a server serves each under its name); the one <see cref="Activate"/>d
/// applies to every forward, none to the base. The CPU kernels apply the active adapter too (Inference/LoraProducts).
/// </para>
/// </summary>
public sealed class LoraAdapter : nn.Module
{
    readonly ModuleList<LoraLayer> layers;
    readonly Dictionary<string, LoraLayer> byPath;

    /// <summary>The model this adapter wraps.</summary>
    public CausalLanguageModel Model { get; }
    public LoraSettings Settings { get; }
    /// <summary>PEFT's base_model_name_or_path: the base model's folder.</summary>
    public string BaseModel { get; }
    /// <summary>HF module path of each wrapped projection, in model order (model.layers.0.self_attn.q_proj, ...).</summary>
    public IReadOnlyList<string> Paths { get; }
    public double Scaling => Settings.Scaling;

    LoraAdapter(CausalLanguageModel model, LoraSettings settings, string baseModel, IReadOnlyList<(string Path, Projection Projection)> targets)
        : base(nameof(LoraAdapter))
    {
        Settings = settings.Validate();
        BaseModel = baseModel;
        Paths = targets.Select(t => t.Path).ToList();
        layers = new ModuleList<LoraLayer>(targets.Select(t => new LoraLayer(t.Projection.InFeatures, t.Projection.OutFeatures, settings.Rank)).ToArray());
        byPath = Paths.Zip(layers).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        RegisterComponents();
        // Set after RegisterComponents, which makes every module-typed field a submodule once: the base is not part of
        // the adapter (not its parameters, not moved or disposed with it).
        Model = model;
        Attach(model);
    }

    /// <summary>
    /// A fresh adapter over the projections <paramref name="settings"/> targets: A Kaiming-uniform with a = √5 (uniform in
    /// ±1/√in, PEFT's init) from a generator seeded with <paramref name="seed"/>, B zeros.
    /// </summary>
    public static LoraAdapter Create(CausalLanguageModel model, LoraSettings settings, string baseModel, int seed)
    {
        var targets = Targets(model, settings.TargetModules);
        RequireFloatWeights(targets, "trained on");
        var adapter = new LoraAdapter(model, settings, baseModel, targets);
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var layer in adapter.layers)
        {
            double bound = 1 / Math.Sqrt(layer.InFeatures);
            layer.A.uniform_(-bound, bound, generator);
        }
        return adapter;
    }

    /// <summary>An adapter of zeros over exactly <paramref name="paths"/>, for a loader to fill (Checkpoints/PeftAdapter).</summary>
    public static LoraAdapter Empty(CausalLanguageModel model, LoraSettings settings, string baseModel, IReadOnlyCollection<string> paths)
    {
        var linears = LinearLayers(model);
        var known = linears.Select(l => l.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var path in paths)
            if (!known.Contains(path)) throw new R1Error($"LoRA module '{path}' is not a projection of this {model.Config.Family} model");
        return new LoraAdapter(model, settings, baseModel, linears.Where(l => paths.Contains(l.Path)).ToList());
    }

    /// <summary>Every projection a LoRA adapter may wrap: the projections of the decoder layers (lm_head is not one).</summary>
    public static List<(string Path, Projection Projection)> LinearLayers(CausalLanguageModel model) =>
        model.named_modules().Where(m => m.module is Projection && m.name.StartsWith("model.layers.", StringComparison.Ordinal))
            .Select(m => (m.name, (Projection)m.module))
            .OrderBy(m => LayerIndex(m.name)).ThenBy(m => m.name, StringComparer.Ordinal).ToList();

    static int LayerIndex(string path) => int.Parse(path.Split('.')[2]);

    /// <summary>The projections <paramref name="targets"/> picks; none is an error that lists what there is.</summary>
    public static List<(string Path, Projection Projection)> Targets(CausalLanguageModel model, LoraTargetModules targets)
    {
        var all = LinearLayers(model);
        var chosen = all.Where(l => targets.Matches(l.Path)).ToList();
        if (chosen.Count == 0)
            throw new R1Error($"lora_target_modules '{targets}' matches no projection of this {model.Config.Family} model; " +
                              $"it has {string.Join(", ", all.Select(l => l.Path.Split('.')[^1]).Distinct())} (lm_head and the embedding cannot be wrapped)");
        return chosen;
    }

    /// <summary>
    /// Training an adapter and merging one need the base's float weights: a quantized (packed) model can only run an
    /// adapter beside its weights, whose rounding a trained or merged update would not match.
    /// </summary>
    static void RequireFloatWeights(IEnumerable<(string Path, Projection Projection)> projections, string use)
    {
        foreach (var (path, projection) in projections)
            if (projection.Weight is null)
                throw new R1Error($"a LoRA adapter cannot be {use} a quantized model ({path} holds {projection.Packed?.Type.ToString() ?? "no"} weights); " +
                                  "use the model's float weights (a model directory without --quantize)");
    }

    /// <summary>The pair wrapping the projection at <paramref name="path"/>, or null.</summary>
    public LoraLayer? Find(string path) => byPath.GetValueOrDefault(path);

    public IEnumerable<(string Path, LoraLayer Layer)> Layers => Paths.Select(p => (p, byPath[p]));

    /// <summary>scaling · B(A(dropout(x))): what this adapter adds to the output of its projection.</summary>
    public Tensor Delta(LoraLayer layer, Tensor x, bool training)
    {
        using var scope = NewDisposeScope();
        var input = training && Settings.Dropout > 0 ? nn.functional.dropout(x, Settings.Dropout, training: true) : x;
        var low = nn.functional.linear(input, layer.A.to(x.dtype));
        return (nn.functional.linear(low, layer.B.to(x.dtype)) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>scaling · B @ A, the change this adapter makes to a projection's weight [out, in].</summary>
    public Tensor WeightDelta(LoraLayer layer)
    {
        using var scope = NewDisposeScope();
        return (layer.B.matmul(layer.A) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>Adds scaling · B @ A to every wrapped weight of the model (then the adapter must not be active: it would count twice).</summary>
    public void MergeIntoModel()
    {
        using var _ = no_grad();
        var projections = LinearLayers(Model).ToDictionary(l => l.Path, l => l.Projection);
        RequireFloatWeights(Paths.Select(p => (p, projections[p])), "merged into");
        if (ActiveOn(Model) == this) Deactivate(Model);
        foreach (var (path, layer) in Layers)
        {
            var weight = projections[path].Weight!; // the parameter itself, not a copy: never disposed here
            using var delta = WeightDelta(layer);
            weight.add_(delta.to(weight.dtype));
        }
    }

    // --- How adapters reach the model: one forward hook on each projection, reading which adapter is active. ---

    /// <summary>A model's adapters: which one applies now; hooks on its projections are installed once.</summary>
    sealed class Attachment
    {
        public volatile LoraAdapter? Active;
    }

    static readonly ConditionalWeakTable<CausalLanguageModel, Attachment> Attachments = new();
    static readonly ConditionalWeakTable<Projection, LinearHook> Hooks = new();
    sealed record LinearHook(Attachment Attachment, string Path);

    /// <summary>
    /// Installs the hooks on every projection of <paramref name="model"/> (once per model). Called for each adapter
    /// made for it; a server that may load adapters while it decodes calls it before it starts, so the hooks are never
    /// changed under a running forward.
    /// </summary>
    public static void Attach(CausalLanguageModel model)
    {
        lock (Attachments)
        {
            if (Attachments.TryGetValue(model, out _)) return;
            var attachment = new Attachment();
            foreach (var (path, linear) in LinearLayers(model))
            {
                Hooks.Add(linear, new LinearHook(attachment, path));
                linear.register_forward_hook((module, input, output) =>
                {
                    var adapter = attachment.Active;
                    if (adapter?.Find(path) is not { } layer) return null!; // null: the output unchanged
                    using var delta = adapter.Delta(layer, input, module.training);
                    return output + delta;
                });
            }
            Attachments.Add(model, attachment);
        }
    }

    /// <summary>The adapter every forward of <paramref name="model"/> applies now, or null (the base).</summary>
    public static LoraAdapter? ActiveOn(CausalLanguageModel model) => Attachments.TryGetValue(model, out var a) ? a.Active : null;

    /// <summary>Makes this adapter the one every forward of its model applies; returns it.</summary>
    public LoraAdapter Activate()
    {
        Attachments.GetValue(Model, _ => throw new InvalidOperationException("adapter not attached")).Active = this;
        return this;
    }

    /// <summary>Forwards of <paramref name="model"/> run the base alone until another adapter is activated.</summary>
    public static void Deactivate(CausalLanguageModel model)
    {
        if (Attachments.TryGetValue(model, out var a)) a.Active = null;
    }

    /// <summary>
    /// Forwards of <paramref name="model"/> apply <paramref name="adapter"/> (null: none, the base) until the scope ends,
    /// then the adapter active before. GRPO's KL reference is the base this way, without a second copy of the model.
    /// </summary>
    public static Scope Use(CausalLanguageModel model, LoraAdapter? adapter)
    {
        if (adapter is not null && adapter.Model != model) throw new ArgumentException("the adapter belongs to another model");
        var previous = ActiveOn(model);
        if (previous != adapter)
        {
            if (adapter is null) Deactivate(model);
            else adapter.Activate();
        }
        return new Scope(model, previous);
    }

    public readonly struct Scope(CausalLanguageModel model, LoraAdapter? previous) : IDisposable
    {
        public void Dispose()
        {
            if (previous is null) Deactivate(model);
            else previous.Activate();
        }
    }

    /// <summary>
    /// The weight a projection applies now: its own, plus scaling · B @ A when the active adapter wraps it. For code that
    /// reads a weight instead of calling the layer (MLA's absorbed attention folds kv_b_proj into the query and output).
    /// Without an adapter it is <see cref="Projection.DenseWeight"/> (the parameter itself, or a packed weight dequantized),
    /// so the caller must not dispose it (a dispose scope frees copies and the sum).
    /// </summary>
    public static Tensor EffectiveWeight(Projection projection)
    {
        var weight = projection.DenseWeight();
        if (!Hooks.TryGetValue(projection, out var hook) || hook.Attachment.Active is not { } adapter || adapter.Find(hook.Path) is not { } layer)
            return weight;
        using var delta = adapter.WeightDelta(layer);
        return weight + delta.to(weight.dtype);
    }
}
