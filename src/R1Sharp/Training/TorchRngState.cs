using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Saves and restores the state of a torch random generator (the one rollouts sample tokens with), so a resumed run
/// samples the same completions an unbroken run would have.
/// </summary>
public static class TorchRngState
{
    /// <summary>The generator's state as bytes; <paramref name="generator"/> null means torch's default generator.</summary>
    public static byte[] Capture(Generator? generator = null)
    {
        using var state = generator is null ? random.get_rng_state() : generator.get_state();
        return state.data<byte>().ToArray();
    }

    public static void Restore(byte[] state, Generator? generator = null)
    {
        using var tensor = torch.tensor(state, dtype: uint8);
        if (generator is null)
            random.set_rng_state(tensor);
        else
            generator.set_state(tensor);
    }

    public static void Save(string path, Generator? generator = null) => File.WriteAllBytes(path, Capture(generator));

    public static void Load(string path, Generator? generator = null) => Restore(File.ReadAllBytes(path), generator);
}
