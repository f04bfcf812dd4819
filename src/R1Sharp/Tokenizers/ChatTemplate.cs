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

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        foreach (ChatMessage m in messages)
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new R1Error($"chat message role '{m.Role}' is not supported by the {Name} template (system, user, assistant)");
        return chatMl ? RenderChatMl(messages, addGenerationPrompt) : RenderDeepSeekR1(messages, addGenerationPrompt);
    }

    string RenderDeepSeekR1(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder(ChatTokens.Bos);
        sb.AppendJoin("\n\n", messages.Where(m => m.Role == "system").Select(m => m.Content));
        foreach (ChatMessage m in messages)
        {
            if (m.Role == "user") sb.Append(ChatTokens.User).Append(m.Content);
            else if (m.Role == "assistant") sb.Append(ChatTokens.Assistant).Append(AnswerPart(m.Content)).Append(ChatTokens.Eos);
        }
        if (addGenerationPrompt) sb.Append(ChatTokens.Assistant).Append(ChatTokens.ThinkStart).Append('\n');
        return sb.ToString();
    }

    string RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        foreach (ChatMessage m in messages)
        {
            string content = m.Role == "assistant" && m.Content.Contains(ChatTokens.ThinkEnd) ? AnswerPart(m.Content).TrimStart('\n') : m.Content;
            sb.Append(ChatTokens.ImStart).Append(m.Role).Append('\n').Append(content).Append(ChatTokens.ImEnd).Append('\n');
        }
        if (addGenerationPrompt)
        {
            sb.Append(ChatTokens.ImStart).Append("assistant\n");
            if (OpensThink) sb.Append(ChatTokens.ThinkStart).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>What an earlier assistant turn keeps: the text after its last "&lt;/think&gt;".</summary>
    static string AnswerPart(string content)
    {
        int end = content.LastIndexOf(ChatTokens.ThinkEnd, StringComparison.Ordinal);
        return end < 0 ? content : content[(end + ChatTokens.ThinkEnd.Length)..];
    }
}
