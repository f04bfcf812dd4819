using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using R1Sharp.Tokenizers.Jinja;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Turns a conversation into the prompt text a model was trained on. Three built-in presets, rendered in C#:
/// DeepSeek-R1 ("deepseek-r1": BOS + system + &lt;｜User｜&gt;… &lt;｜Assistant｜&gt;…EOS, generation prompt
/// "&lt;｜Assistant｜&gt;&lt;think&gt;\n") and ChatML ("chatml", and "chatml-think" whose generation prompt also opens
/// "&lt;think&gt;\n"). Earlier assistant turns lose their reasoning (the text up to the last "&lt;/think&gt;"), as in
/// R1's and Qwen3's own templates. <see cref="JinjaText"/> renders the same text under Hugging Face's
/// apply_chat_template, so a saved checkpoint works there too.
/// Any other template is a downloaded tokenizer_config.json's (or GGUF file's) Jinja "chat_template", rendered by
/// <see cref="JinjaTemplate"/> exactly as transformers renders it (<see cref="FromJinja"/>).
/// </summary>
/// <remarks>
/// <see cref="RenderPrompt"/> also says where the messages' contents are in the text, so a tokenizer can take special
/// tokens from the template's markup only (<see cref="ITextTokenizer.Encode(ChatPrompt)"/>): a user who writes
/// "&lt;｜Assistant｜&gt;" gets those characters, not the turn marker. For a Jinja template, which may cut, strip or
/// reorder contents, the located parts are the token texts inside the contents (see <see cref="RenderJinjaPrompt"/>).
/// </remarks>
public sealed class ChatTemplate
{
    public string Name { get; }

    /// <summary>The template as Jinja, saved as "chat_template" in tokenizer_config.json.</summary>
    public string JinjaText { get; }

    /// <summary>True when the generation prompt ends with an opened "&lt;think&gt;": the completion starts inside the reasoning.</summary>
    public bool OpensThink { get; }

    readonly bool chatMl;
    readonly JinjaTemplate? jinja;     // null for the presets, which render in C#
    readonly JinjaTemplate? toolUse;   // the list form's "tool_use" template, which transformers picks when tools are given
    readonly IReadOnlyDictionary<string, object?> tokenVariables;
    JinjaTemplate? presetJinja;        // a preset's JinjaText, parsed when RenderJinja first needs it
    // Token texts a Jinja template's contents may not smuggle in as tokens: every added token in a system, user or tool
    // turn; special ones only in an assistant turn, whose "</think>" templates must still find to drop old reasoning.
    readonly AddedTokenMatcher? contentTokens, assistantTokens;

    ChatTemplate(string name, bool chatMl, bool opensThink, string jinjaText)
    {
        Name = name;
        this.chatMl = chatMl;
        OpensThink = opensThink;
        JinjaText = jinjaText;
        tokenVariables = new Dictionary<string, object?> { ["bos_token"] = ChatTokens.Bos, ["eos_token"] = ChatTokens.Eos, ["pad_token"] = ChatTokens.Pad };
    }

    ChatTemplate(string name, string jinjaText, JinjaTemplate jinja, JinjaTemplate? toolUse, IReadOnlyDictionary<string, object?> tokenVariables,
        AddedTokenMatcher contentTokens, AddedTokenMatcher assistantTokens)
    {
        Name = name;
        JinjaText = jinjaText;
        this.jinja = jinja;
        this.toolUse = toolUse;
        this.tokenVariables = tokenVariables;
        this.contentTokens = contentTokens;
        this.assistantTokens = assistantTokens;
        OpensThink = OpensThinkBlock();
    }

    /// <summary>
    /// A Jinja chat template rendered as transformers' apply_chat_template renders it: the token variables
    /// (bos_token, eos_token, pad_token, unk_token, …, additional_special_tokens) come from <paramref name="config"/>;
    /// <paramref name="addedTokens"/> (the tokenizer's) are what <see cref="RenderPrompt"/> keeps contents from forging.
    /// Fails with a clear <see cref="R1Error"/> when the template uses a construct the renderer does not support.
    /// </summary>
    public static ChatTemplate FromJinja(string jinjaText, TokenizerConfig? config = null, IEnumerable<AddedToken>? addedTokens = null, string name = "jinja")
    {
        var tokens = new Dictionary<string, object?>();
        void Add(string field, string? token)
        {
            if (!string.IsNullOrEmpty(token)) tokens[field] = token;
        }
        Add("bos_token", config?.BosToken);
        Add("eos_token", config?.EosToken);
        Add("pad_token", config?.PadToken);
        foreach (var (field, token) in config?.OtherSpecialTokens ?? new Dictionary<string, string>()) Add(field, token);
        if (config?.AdditionalSpecialTokens is { Count: > 0 } additional) tokens["additional_special_tokens"] = additional.Cast<object?>().ToList();
        JinjaTemplate? toolUse = config?.NamedChatTemplates.GetValueOrDefault("tool_use") is { } toolText ? JinjaTemplate.Parse(toolText) : null;
        List<AddedToken> named = [.. tokens.Values.SelectMany(v => v as List<object?> ?? [v]).OfType<string>().Select(t => new AddedToken(-1, t, Special: true))];
        List<AddedToken> added = [.. addedTokens ?? []];
        return new ChatTemplate(name, jinjaText, JinjaTemplate.Parse(jinjaText), toolUse, tokens,
            new AddedTokenMatcher([.. added, .. named]), new AddedTokenMatcher([.. added.Where(t => t.Special), .. named]));
    }

    /// <summary>Whether the generation prompt after a one-line user turn ends inside an opened think block.</summary>
    bool OpensThinkBlock()
    {
        try
        {
            string prompt = RenderJinja([new JsonObject { ["role"] = "user", ["content"] = "x" }], addGenerationPrompt: true);
            return prompt.TrimEnd('\n').EndsWith(ChatTokens.ThinkStart, StringComparison.Ordinal);
        }
        catch (R1Error)
        {
            return false; // a template that needs more (a system turn, tools) than the probe gives
        }
    }

    public static ChatTemplate DeepSeekR1 { get; } = new("deepseek-r1", chatMl: false, opensThink: true,
        "{%- set ns = namespace(system='', first=true) -%}" +
        "{%- for message in messages -%}{%- if message['role'] == 'system' -%}" +
        "{%- if ns.first -%}{%- set ns.system = message['content'] -%}{%- set ns.first = false -%}" +
        @"{%- else -%}{%- set ns.system = ns.system + '\n\n' + message['content'] -%}{%- endif -%}" +
        "{%- endif -%}{%- endfor -%}" +
        "{{- bos_token + ns.system -}}" +
        "{%- for message in messages -%}" +
        "{%- if message['role'] == 'user' -%}{{- '<｜User｜>' + message['content'] -}}" +
        "{%- elif message['role'] == 'assistant' -%}{%- set content = message['content'] -%}" +
        "{%- if '" + ChatTokens.ThinkEnd + "' in content -%}{%- set content = content.split('" + ChatTokens.ThinkEnd + "')[-1] -%}{%- endif -%}" +
        "{{- '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' -}}" +
        "{%- endif -%}{%- endfor -%}" +
        "{%- if add_generation_prompt -%}{{- '<｜Assistant｜>" + ChatTokens.ThinkStart + @"\n' -}}{%- endif -%}");

    public static ChatTemplate ChatMl { get; } = new("chatml", chatMl: true, opensThink: false, ChatMlJinja(""));

    public static ChatTemplate ChatMlThink { get; } = new("chatml-think", chatMl: true, opensThink: true, ChatMlJinja(ChatTokens.ThinkStart + @"\n"));

    static string ChatMlJinja(string afterGenerationPrompt) =>
        "{%- for message in messages -%}{%- set content = message['content'] -%}" +
        "{%- if message['role'] == 'assistant' and '" + ChatTokens.ThinkEnd + "' in content -%}" +
        "{%- set content = content.split('" + ChatTokens.ThinkEnd + @"')[-1].lstrip('\n') -%}{%- endif -%}" +
        @"{{- '<|im_start|>' + message['role'] + '\n' + content + '<|im_end|>\n' -}}" +
        "{%- endfor -%}" +
        @"{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n" + afterGenerationPrompt + "' -}}{%- endif -%}";

    public static IReadOnlyList<ChatTemplate> All { get; } = [DeepSeekR1, ChatMl, ChatMlThink];

    public static ChatTemplate ByName(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new R1Error($"unknown chat template '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    /// <summary>
    /// The preset a tokenizer_config.json names ("r1_chat_template", written by R1Sharp), or else its own Jinja
    /// "chat_template" (<see cref="FromJinja"/>, with the tokenizer's <paramref name="addedTokens"/>); null when it has neither.
    /// </summary>
    public static ChatTemplate? FromConfig(TokenizerConfig config, IEnumerable<AddedToken>? addedTokens = null)
    {
        if (config.ChatTemplateName is { } name) return ByName(name);
        return config.ChatTemplateText is { } jinja ? FromJinja(jinja, config, addedTokens) : null;
    }

    /// <summary>The prompt text, as Hugging Face's apply_chat_template(tokenize=False) writes it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => RenderPrompt(messages, addGenerationPrompt).Text;

    /// <summary>The prompt text and where the messages' contents are in it.</summary>
    public ChatPrompt RenderPrompt(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        if (jinja is not null) return RenderJinjaPrompt(messages, addGenerationPrompt);
        foreach (ChatMessage m in messages)
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new R1Error($"chat message role '{m.Role}' is not supported by the {Name} template (system, user, assistant)");
        var prompt = new PromptBuilder();
        if (chatMl) RenderChatMl(messages, addGenerationPrompt, prompt);
        else RenderDeepSeekR1(messages, addGenerationPrompt, prompt);
        return prompt.Build();
    }

    /// <summary>
    /// What transformers' apply_chat_template(messages, add_generation_prompt, **variables, tokenize=False) returns:
    /// the Jinja text rendered with messages as given (tool_calls, reasoning_content, … included), tools=None and
    /// documents=None unless set, the tokenizer's token variables, then <paramref name="variables"/> (tools,
    /// enable_thinking, date_string, …). Presets render their <see cref="JinjaText"/> here too.
    /// </summary>
    /// <param name="clock">What strftime_now() reads; the system clock if null.</param>
    public string RenderJinja(JsonArray messages, bool addGenerationPrompt, JsonObject? variables = null, TimeProvider? clock = null)
    {
        var values = new Dictionary<string, object?>
        {
            ["messages"] = Py.FromJson(messages),
            ["tools"] = null,
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        foreach (var (name, value) in tokenVariables) values[name] = value;
        foreach (var (name, value) in variables ?? []) values[name] = Py.FromJson(value);
        JinjaTemplate template = toolUse is not null && values["tools"] is not null ? toolUse
            : jinja ?? (presetJinja ??= JinjaTemplate.Parse(JinjaText));
        return template.Render(values, clock);
    }

    /// <summary>
    /// A Jinja template's prompt with the contents' token texts located, as transformers' apply_chat_template(
    /// sanitize_special_tokens=True) does it: each token text in a message's content is swapped for a placeholder before
    /// rendering and swapped back after, and those places are the <see cref="ChatPrompt.Contents"/> a tokenizer reads as
    /// plain text. The rest of a content, wherever the template puts it, holds no token text to protect. The text equals
    /// <see cref="Render"/>'s.
    /// </summary>
    ChatPrompt RenderJinjaPrompt(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var originals = new List<string>();
        (char open, char close) = PlaceholderMarks(messages);
        var sanitized = new JsonArray();
        foreach (ChatMessage m in messages)
        {
            var content = new StringBuilder();
            foreach (AddedTokenMatcher.Segment segment in (m.Role == "assistant" ? assistantTokens! : contentTokens!).Split(m.Content))
            {
                if (segment.Token is null)
                {
                    content.Append(m.Content, segment.Start, segment.Length);
                    continue;
                }
                content.Append(open).Append(originals.Count.ToString(CultureInfo.InvariantCulture)).Append(close);
                originals.Add(segment.Token.Content);
            }
            sanitized.Add(new JsonObject { ["role"] = m.Role, ["content"] = content.ToString() });
        }
        string rendered = RenderJinja(sanitized, addGenerationPrompt);
        var text = new StringBuilder(rendered.Length);
        var contents = new List<Range>();
        int at = 0;
        for (int start = rendered.IndexOf(open); start >= 0; start = rendered.IndexOf(open, at))
        {
            int end = rendered.IndexOf(close, start);
            if (end < 0 || !int.TryParse(rendered.AsSpan(start + 1, end - start - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                || index >= originals.Count)
                throw new R1Error($"the {Name} chat template cut through a token's text in a message, so its contents cannot be told from its markup");
            text.Append(rendered, at, start - at);
            contents.Add(text.Length..(text.Length + originals[index].Length));
            text.Append(originals[index]);
            at = end + 1;
        }
        text.Append(rendered, at, rendered.Length - at);
        if (rendered.IndexOf(close, at) >= 0)
            throw new R1Error($"the {Name} chat template cut through a token's text in a message, so its contents cannot be told from its markup");
        return new ChatPrompt(text.ToString(), contents);
    }

    /// <summary>Two private-use characters that occur neither in the template nor in the messages, to delimit placeholders.</summary>
    (char Open, char Close) PlaceholderMarks(IReadOnlyList<ChatMessage> messages)
    {
        var marks = new List<char>();
        for (char c = '\uE000'; c <= '\uF8FF' && marks.Count < 2; c++)
            if (!JinjaText.Contains(c) && !messages.Any(m => m.Content.Contains(c))) marks.Add(c);
        if (marks.Count < 2) throw new R1Error("the chat messages use every private-use character, so their contents cannot be located");
        return (marks[0], marks[1]);
    }

    static void RenderDeepSeekR1(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, PromptBuilder prompt)
    {
        prompt.Markup(ChatTokens.Bos);
        bool first = true;
        foreach (ChatMessage m in messages.Where(m => m.Role == "system"))
        {
            if (!first) prompt.Markup("\n\n");
            prompt.Content(m.Content);
            first = false;
        }
        foreach (ChatMessage m in messages)
        {
            if (m.Role == "user") prompt.Markup(ChatTokens.User).Content(m.Content);
            else if (m.Role == "assistant") prompt.Markup(ChatTokens.Assistant).Content(AnswerPart(m.Content)).Markup(ChatTokens.Eos);
        }
        if (addGenerationPrompt) prompt.Markup(ChatTokens.Assistant + ChatTokens.ThinkStart + "\n");
    }

    void RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, PromptBuilder prompt)
    {
        foreach (ChatMessage m in messages)
        {
            string content = m.Role == "assistant" && m.Content.Contains(ChatTokens.ThinkEnd) ? AnswerPart(m.Content).TrimStart('\n') : m.Content;
            prompt.Markup(ChatTokens.ImStart + m.Role + "\n").Content(content).Markup(ChatTokens.ImEnd + "\n");
        }
        if (addGenerationPrompt) prompt.Markup(ChatTokens.ImStart + "assistant\n" + (OpensThink ? ChatTokens.ThinkStart + "\n" : ""));
    }

    sealed class PromptBuilder
    {
        readonly StringBuilder text = new();
        readonly List<Range> contents = [];

        public PromptBuilder Markup(string markup)
        {
            text.Append(markup);
            return this;
        }

        public PromptBuilder Content(string content)
        {
            if (content.Length > 0) contents.Add(text.Length..(text.Length + content.Length));
            text.Append(content);
            return this;
        }

        public ChatPrompt Build() => new(text.ToString(), contents);
    }

    /// <summary>What an earlier assistant turn keeps: the text after its last "&lt;/think&gt;".</summary>
    static string AnswerPart(string content)
    {
        int end = content.LastIndexOf(ChatTokens.ThinkEnd, StringComparison.Ordinal);
        return end < 0 ? content : content[(end + ChatTokens.ThinkEnd.Length)..];
    }
}

/// <summary>
/// A conversation rendered by a <see cref="ChatTemplate"/>: the prompt text, and the stretches of it that are the
/// messages' contents (in order, not overlapping); the rest is the template's own markup.
/// </summary>
public sealed record ChatPrompt(string Text, IReadOnlyList<Range> Contents)
{
    /// <summary>The contents as (start, length) in <see cref="Text"/>, checked to be in order and not overlapping.</summary>
    public IEnumerable<(int Start, int Length)> ContentSpans()
    {
        int at = 0;
        foreach (Range content in Contents)
        {
            (int start, int length) = content.GetOffsetAndLength(Text.Length);
            if (start < at) throw new ArgumentException("chat prompt contents must be in order and must not overlap");
            yield return (start, length);
            at = start + length;
        }
    }
}
