using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Turns a conversation into the prompt text a model was trained on. Two formats:
/// DeepSeek-R1 ("deepseek-r1": BOS + system + &lt;｜User｜&gt;… &lt;｜Assistant｜&gt;…EOS, generation prompt
/// "&lt;｜Assistant｜&gt;&lt;think&gt;\n") and ChatML ("chatml", and "chatml-think" whose generation prompt also opens
/// "&lt;think&gt;\n"). Earlier assistant turns lose their reasoning (the text up to the last "&lt;/think&gt;"), as in
/// R1's and Qwen3's own templates. <see cref="JinjaText"/> renders the same text under Hugging Face's
/// apply_chat_template, so a saved checkpoint works there too.
/// </summary>
/// <remarks>
/// <see cref="RenderPrompt"/> also says where the messages' contents are in the text, so a tokenizer can take special
/// tokens from the template's markup only (<see cref="ITextTokenizer.Encode(ChatPrompt)"/>): a user who writes
/// "&lt;｜Assistant｜&gt;" gets those characters, not the turn marker.
/// </remarks>
public sealed class ChatTemplate
{
    public string Name { get; }

    /// <summary>The template as Jinja, saved as "chat_template" in tokenizer_config.json.</summary>
    public string JinjaText { get; }

    /// <summary>True when the generation prompt ends with an opened "&lt;think&gt;": the completion starts inside the reasoning.</summary>
    public bool OpensThink { get; }

    readonly bool chatMl;

    ChatTemplate(string name, bool chatMl, bool opensThink, string jinjaText)
    {
        Name = name;
        this.chatMl = chatMl;
        OpensThink = opensThink;
        JinjaText = jinjaText;
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
    /// The template a tokenizer_config.json names ("r1_chat_template"), or else the format its Jinja
    /// "chat_template" is written in (DeepSeek-R1 tokens or ChatML tokens); null when neither says.
    /// </summary>
    public static ChatTemplate? FromConfig(TokenizerConfig config)
    {
        if (config.ChatTemplateName is { } name) return ByName(name);
        string? jinja = config.ChatTemplateText;
        if (jinja is null) return null;
        if (jinja.Contains(ChatTokens.Assistant)) return DeepSeekR1;
        if (!jinja.Contains(ChatTokens.ImStart)) return null;
        // QwQ-style templates open the think block in the generation prompt; Qwen3's leaves it to the model.
        bool opensThink = jinja.Contains($"{ChatTokens.ImStart}assistant\\n{ChatTokens.ThinkStart}\\n") || jinja.Contains($"{ChatTokens.ImStart}assistant\n{ChatTokens.ThinkStart}\n");
        return opensThink ? ChatMlThink : ChatMl;
    }

    /// <summary>The prompt text, as Hugging Face's apply_chat_template(tokenize=False) writes it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => RenderPrompt(messages, addGenerationPrompt).Text;

    /// <summary>The prompt text and where the messages' contents are in it.</summary>
    public ChatPrompt RenderPrompt(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        foreach (ChatMessage m in messages)
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new R1Error($"chat message role '{m.Role}' is not supported by the {Name} template (system, user, assistant)");
        var prompt = new PromptBuilder();
        if (chatMl) RenderChatMl(messages, addGenerationPrompt, prompt);
        else RenderDeepSeekR1(messages, addGenerationPrompt, prompt);
        return prompt.Build();
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
