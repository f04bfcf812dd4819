namespace R1Sharp.Tokenizers.Jinja;

/// <summary>
/// Bounds on what one rendering may do, so a hostile template (from a downloaded tokenizer_config.json or GGUF
/// file) fails with a clear error instead of hanging or exhausting memory. The defaults are far above what real
/// chat templates need: a 1,000-message conversation with tools takes about 1% of the step limit.
/// </summary>
/// <param name="MaxTemplateChars">Longest template text accepted.</param>
/// <param name="MaxOutputChars">Longest rendered text, and longest string built on the way.</param>
/// <param name="MaxLoopIterations">For-loop iterations over the whole rendering.</param>
/// <param name="MaxSteps">Statements and expressions evaluated over the whole rendering.</param>
/// <param name="MaxCallDepth">Macro calls in progress at once (recursion).</param>
/// <param name="MaxItems">Longest list built (range(), list + list, list * n).</param>
public sealed record JinjaLimits(
    int MaxTemplateChars = 1_000_000,
    int MaxOutputChars = 4_000_000,
    long MaxLoopIterations = 1_000_000,
    long MaxSteps = 5_000_000,
    int MaxCallDepth = 100,
    int MaxItems = 1_000_000)
{
    public static JinjaLimits Default { get; } = new();
}

/// <summary>
/// A Jinja2 template parsed once and rendered with Python's semantics, as transformers' apply_chat_template
/// renders chat templates (trim_blocks, lstrip_blocks, loop controls, its "tojson", "raise_exception" and
/// "strftime_now"). No file, network or clock access beyond the given <see cref="TimeProvider"/>.
/// Errors are <see cref="R1Error"/>s naming the line and column.
/// </summary>
public sealed class JinjaTemplate
{
    readonly List<Node> body;

    JinjaTemplate(List<Node> body) => this.body = body;

    public static JinjaTemplate Parse(string text, JinjaLimits? limits = null)
    {
        limits ??= JinjaLimits.Default;
        if (text.Length > limits.MaxTemplateChars)
            throw new R1Error($"chat template is {text.Length:N0} characters long, more than the limit of {limits.MaxTemplateChars:N0}");
        try
        {
            return new JinjaTemplate(JinjaParser.Parse(text));
        }
        catch (JinjaException e)
        {
            throw new R1Error($"chat template {e.Pos}: {e.Message}", e);
        }
    }

    /// <param name="variables">Template variables as <see cref="Py"/> values (see <see cref="Py.FromJson"/>).</param>
    /// <param name="clock">What strftime_now() reads (local time); the system clock if null.</param>
    public string Render(IReadOnlyDictionary<string, object?> variables, TimeProvider? clock = null, JinjaLimits? limits = null)
    {
        try
        {
            return JinjaInterpreter.Render(body, variables, limits ?? JinjaLimits.Default, clock ?? TimeProvider.System);
        }
        catch (JinjaException e)
        {
            throw new R1Error($"chat template {e.Pos}: {e.Message}", e);
        }
    }
}
