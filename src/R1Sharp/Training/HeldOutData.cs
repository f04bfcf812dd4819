using System.Security.Cryptography;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// The data pretraining, SFT and distillation hold out for eval_loss (eval_share of it, when eval_steps is set), chosen
/// the same way in every run: the items — corpus documents, SFT examples by their prompt — whose hash of tokens falls
/// below eval_share, so the choice depends on neither file order nor seed and a resumed run holds out the same data.
/// At least one item is held out when there are two or more; a corpus that is one document (a plain text file) holds
/// out the last eval_share of its tokens, as nanoGPT's validation split does.
/// </summary>
public static class HeldOutData
{
    /// <summary>Items into training and held-out by the hash of <paramref name="tokens"/> (items with the same tokens
    /// land on the same side). <paramref name="share"/> 0 holds out nothing.</summary>
    public static (List<T> Train, List<T> HeldOut) Split<T>(IReadOnlyList<T> items, double share, Func<T, int[]> tokens)
    {
        if (share <= 0 || items.Count < 2) return ([.. items], []);
        var position = items.Select(item => HashFraction(tokens(item))).ToList();
        // Too few items for the share to pick one: the lowest hash (with its duplicates) goes.
        double threshold = position.Any(p => p < share) ? share : Math.BitIncrement(position.Min());
        var train = items.Where((_, i) => position[i] >= threshold).ToList();
        var heldOut = items.Where((_, i) => position[i] < threshold).ToList();
        if (train.Count == 0)
            throw new R1Error($"option eval_share = {share} holds out all {items.Count} items of the data, leaving nothing to train on; lower it");
        return (train, heldOut);
    }

    /// <summary>Pretraining documents into training and held-out (see the class summary).</summary>
    public static (List<int[]> Train, List<int[]> HeldOut) Documents(IReadOnlyList<int[]> documents, double share)
    {
        if (documents.Count != 1 || share <= 0) return Split(documents, share, d => d);
        int[] only = documents[0];
        int cut = (int)Math.Round(only.Length * (1 - share));
        return ([only[..cut]], [only[cut..]]);
    }

    /// <summary>
    /// Up to <paramref name="maxBatches"/> fixed evaluation batches of held-out documents packed as pretraining packs
    /// them (in their order, no shuffle): rows of <paramref name="sequenceLength"/> tokens, or of all the held-out
    /// tokens but one when there are fewer. Empty when fewer than two tokens are held out.
    /// </summary>
    public static List<TrainingBatch> PackedBatches(IReadOnlyList<int[]> documents, int batchSize, int sequenceLength, int maxBatches, Device device)
    {
        long[] stream = documents.SelectMany(d => d).Select(t => (long)t).ToArray();
        int length = Math.Min(sequenceLength, stream.Length - 1);
        if (length < 1) return [];
        int rows = Math.Min(maxBatches * batchSize, (stream.Length - 1) / length);
        var batches = new List<TrainingBatch>();
        for (int first = 0; first < rows; first += batchSize)
        {
            int count = Math.Min(batchSize, rows - first);
            var inputs = new long[count * length];
            var targets = new long[count * length];
            for (int r = 0; r < count; r++)
            {
                // Consecutive rows share one token, as in PackedTokenStream: every held-out token is a target once.
                long offset = (long)(first + r) * length;
                Array.Copy(stream, offset, inputs, r * length, length);
                Array.Copy(stream, offset + 1, targets, r * length, length);
            }
            batches.Add(new TrainingBatch(tensor(inputs, device: device).view(count, length), tensor(targets, device: device).view(count, length), null));
        }
        return batches;
    }

    /// <summary>Up to <paramref name="maxBatches"/> fixed evaluation batches of held-out SFT examples, padded as training pads them.</summary>
    public static List<TrainingBatch> SftBatches(IReadOnlyList<SftExample> examples, int batchSize, int maxLength, int padId, int maxBatches, Device device) =>
        examples.Chunk(batchSize).Take(maxBatches).Select(chunk => SftExample.Collate(chunk, maxLength, padId, device)).ToList();

    /// <summary>Where <paramref name="tokens"/> hash to in [0, 1).</summary>
    static double HashFraction(int[] tokens)
    {
        var bytes = new byte[tokens.Length * sizeof(int)];
        Buffer.BlockCopy(tokens, 0, bytes, 0, bytes.Length);
        return BitConverter.ToUInt64(SHA256.HashData(bytes), 0) / 18446744073709551616.0;
    }
}
