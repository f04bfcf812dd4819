using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// The weights of a Hugging Face model directory: one <c>model.safetensors</c>, or shards
/// <c>model-00001-of-00003.safetensors</c>... listed by <c>model.safetensors.index.json</c>
/// (<c>{"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}</c>).
/// </summary>
public static partial class HfWeights
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Shard names as transformers writes them; readers never rely on it (DeepSeek uses 6 digits), only the index.</summary>
    [GeneratedRegex(@"^model-\d+-of-\d+\.safetensors$")]
    private static partial Regex ShardFileName();

    /// <summary>Whether <paramref name="dir"/> holds weights in either layout (they may still be invalid).</summary>
    public static bool Exist(string dir) => File.Exists(Path.Combine(dir, SingleFileName)) || File.Exists(Path.Combine(dir, IndexFileName));

    /// <summary>
    /// The validated header of every weight file in <paramref name="dir"/>, in name order: each header's tensor
    /// table and byte ranges against its file's size, and for shards the index against every shard. Reads headers
    /// only, never tensor bytes; every failure is an R1Error naming the file (and the tensor).
    /// </summary>
    public static IReadOnlyList<(string Path, SafeTensorsHeader Header)> ReadHeaders(string dir)
    {
        string single = Path.Combine(dir, SingleFileName), index = Path.Combine(dir, IndexFileName);
        bool hasSingle = File.Exists(single), hasIndex = File.Exists(index);
        if (hasSingle && hasIndex)
            throw new R1Error($"{dir}: holds both {SingleFileName} and {IndexFileName}, so which weights are current is unclear; remove the stale one");
        if (hasSingle) return [(single, SafeTensorsFile.ReadHeader(single))];
        if (hasIndex) return ReadShardHeaders(dir, index);
        throw new R1Error(Directory.Exists(dir)
            ? $"{dir}: no {SingleFileName} or {IndexFileName} in this directory"
            : $"{dir}: model directory does not exist");
    }

    /// <summary>Every tensor of the model in <paramref name="dir"/>, in its stored dtype. The caller owns (disposes) them.</summary>
    public static Dictionary<string, Tensor> Load(string dir)
    {
        // Every header (and the index against every shard) is checked before any tensor memory is allocated.
        var files = ReadHeaders(dir);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (path, _) in files)
                foreach (var (name, tensor) in SafeTensorsFile.Load(path))
                    tensors.Add(name, tensor);
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return tensors;
    }

    static List<(string Path, SafeTensorsHeader Header)> ReadShardHeaders(string dir, string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var shards = weightMap.GroupBy(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal)
                              .OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        var headers = new List<(string, SafeTensorsHeader)>(shards.Count);
        foreach (var shard in shards)
        {
            string shardPath = Path.Combine(dir, shard.Key);
            if (!File.Exists(shardPath))
                throw new R1Error($"{indexPath}: weight_map names shard {SafeTensorsHeader.Quote(shard.Key)} (for tensor {SafeTensorsHeader.Quote(shard.First())}), but {shardPath} does not exist");
            var header = SafeTensorsFile.ReadHeader(shardPath);
            foreach (string name in shard)
                if (!header.Tensors.ContainsKey(name))
                    throw new R1Error($"{indexPath}: weight_map puts tensor {SafeTensorsHeader.Quote(name)} in {shard.Key}, but that shard has no such tensor");
            foreach (string name in header.Tensors.Keys)
                if (weightMap.GetValueOrDefault(name) != shard.Key)
                    throw new R1Error($"{shardPath}: holds tensor {SafeTensorsHeader.Quote(name)}, which {IndexFileName} "
                                      + (weightMap.TryGetValue(name, out var other) ? $"puts in {other}" : "does not list"));
            headers.Add((shardPath, header));
        }
        return headers;
    }

    /// <summary>The index's weight_map, tensor name to shard file name; shard names must be plain names in the same directory.</summary>
    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        if (new FileInfo(indexPath).Length > SafeTensorsHeader.MaxHeaderBytes)
            throw new R1Error($"{indexPath}: over {SafeTensorsHeader.MaxHeaderBytes} bytes, too big for an index");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new R1Error($"{indexPath}: must be a JSON object with a \"weight_map\" object of tensor name -> shard file");

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                string name = SafeTensorsHeader.Quote(entry.Name);
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new R1Error($"{indexPath}: weight_map[{name}] must be a shard file name, got {entry.Value.ValueKind}");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new R1Error($"{indexPath}: weight_map[{name}] = {SafeTensorsHeader.Quote(shard)} is not a file name in the model directory");
                if (!weightMap.TryAdd(entry.Name, shard))
                    throw new R1Error($"{indexPath}: weight_map lists tensor {name} more than once");
            }
            return weightMap;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new R1Error($"{indexPath}: not a valid index JSON file: {e.Message}");
        }
    }

    /// <summary>
    /// Saves the tensors as <c>model.safetensors</c> when they fit in <paramref name="maxShardBytes"/>, else as shards
    /// of at most that size (a bigger tensor gets a shard of its own) plus the index. Weight files of the other layout
    /// and stale shards are removed afterwards, so loading never mixes old and new weights.
    /// </summary>
    public static void Save(string dir, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes = long.MaxValue)
    {
        if (maxShardBytes <= 0) throw new R1Error($"maxShardBytes must be positive, got {maxShardBytes}");
        Directory.CreateDirectory(dir);
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        var shards = PackShards(tensors, maxShardBytes);

        if (shards.Count <= 1)
        {
            SafeTensorsFile.Save(Path.Combine(dir, SingleFileName), tensors, metadata);
            DeleteWeightFiles(dir, keep: [SingleFileName]);
            return;
        }

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string shardName = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsFile.Save(Path.Combine(dir, shardName), shards[i], metadata);
            foreach (string name in shards[i].Keys) weightMap[name] = shardName;
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Values.Sum(SafeTensorsFile.ByteLength) },
            ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        AtomicFile.WriteAllText(Path.Combine(dir, IndexFileName), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        DeleteWeightFiles(dir, keep: [IndexFileName, .. weightMap.Values.Distinct()]);
    }

    /// <summary>Greedy in name order, like transformers: start a new shard when the next tensor would overflow this one.</summary>
    static List<Dictionary<string, Tensor>> PackShards(IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes)
    {
        var shards = new List<Dictionary<string, Tensor>>();
        Dictionary<string, Tensor>? current = null;
        long currentBytes = 0;
        foreach (var (name, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long bytes = SafeTensorsFile.ByteLength(tensor);
            if (current is null || (current.Count > 0 && currentBytes + bytes > maxShardBytes))
            {
                current = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                shards.Add(current);
                currentBytes = 0;
            }
            current.Add(name, tensor);
            currentBytes += bytes;
        }
        return shards;
    }

    static void DeleteWeightFiles(string dir, IReadOnlyCollection<string> keep)
    {
        foreach (string path in Directory.EnumerateFiles(dir))
        {
            string name = Path.GetFileName(path);
            bool isWeights = name is SingleFileName or IndexFileName || ShardFileName().IsMatch(name);
            if (isWeights && !keep.Contains(name)) File.Delete(path);
        }
    }
}
