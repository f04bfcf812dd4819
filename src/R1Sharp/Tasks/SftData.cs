using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks;

/// <summary>Worked solutions as supervised fine-tuning / pretraining data.</summary>
public static class SftData
{
    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes one chat per line: {"id", "messages": [prompt…, {"role": "assistant", "content": solution}], "answer"}.
    /// Examples without a worked solution are skipped. Returns how many lines were written.
    /// </summary>
    public static int WriteJsonl(string path, IEnumerable<TaskExample> examples)
    {
        int written = 0;
        AtomicFile.Write(path, temp =>
        {
            using var writer = new StreamWriter(temp);
            foreach (var example in examples)
            {
                if (example.Solution is null) continue;
                var messages = new JsonArray();
                foreach (var turn in example.Prompt.Append(new ChatMessage("assistant", example.Solution)))
                    messages.Add(new JsonObject { ["role"] = turn.Role, ["content"] = turn.Content });
                var line = new JsonObject { ["id"] = example.Id, ["messages"] = messages, ["answer"] = example.Answer };
                writer.WriteLine(line.ToJsonString(Json));
                written++;
            }
        });
        return written;
    }
}
