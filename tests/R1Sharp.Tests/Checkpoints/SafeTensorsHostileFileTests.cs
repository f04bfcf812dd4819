using R1Sharp.Checkpoints;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

/// <summary>Every malformed file is refused with an R1Error that names the file and what is wrong, before any tensor is allocated.</summary>
public class SafeTensorsHostileFileTests
{
    const string F32x4 = "\"dtype\":\"F32\",\"shape\":[4]";

    /// <summary>Load must throw exactly R1Error, mention the file, and mention each fragment.</summary>
    static void AssertRefused(string path, params string[] fragments)
    {
        foreach (var read in new Action[] { () => SafeTensorsFile.Load(path), () => SafeTensorsFile.ReadHeader(path) })
        {
            var error = Assert.Throws<R1Error>(read);
            Assert.Contains(path, error.Message);
            foreach (string fragment in fragments) Assert.Contains(fragment, error.Message);
        }
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix()
    {
        using var files = new CheckpointTestFiles();
        string path = files.PathOf("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        AssertRefused(path, "3 bytes", "too short");
        File.WriteAllBytes(path, []);
        AssertRefused(path, "0 bytes");
    }

    [Fact]
    public void HeaderLengthPastTheEndOfTheFile()
    {
        using var files = new CheckpointTestFiles();
        string path = files.WriteRaw("x.safetensors", "{}", 0, headerLength: 1000);
        AssertRefused(path, "header length 1000", "10-byte file");
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(1UL << 63)]
    [InlineData(ulong.MaxValue)]
    public void HugeHeaderLengthIsRefusedWithoutAllocating(ulong headerLength)
    {
        using var files = new CheckpointTestFiles();
        string path = files.WriteRaw("x.safetensors", "{}", 0, headerLength);
        AssertRefused(path, $"header length {headerLength}", "limit");
    }

    [Fact]
    public void DataSectionCutShort()
    {
        using var files = new CheckpointTestFiles();
        string path = files.PathOf("w.safetensors");
        using var x = ones(16);
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = x });
        byte[] whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..^5]);
        AssertRefused(path, "'x'", "data_offsets [0, 64]", "past the end", "59 bytes");
    }

    [Theory]
    [InlineData("{not json}      ", "not valid JSON")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",", "not valid JSON")]
    [InlineData("[1,2]   ", "starting with '{'")]
    [InlineData("        ", "starting with '{'")]
    [InlineData("{}garbage", "not valid JSON")]
    public void HeaderThatIsNotAJsonObject(string header, string problem)
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors", header, 0), problem);
    }

    [Fact]
    public void HeaderThatIsNotUtf8()
    {
        using var files = new CheckpointTestFiles();
        string path = files.WriteRaw("x.safetensors", "{\"ab\":1}", 0);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[8 + 2] = 0xFF;
        File.WriteAllBytes(path, bytes);
        AssertRefused(path, "UTF-8");
    }

    [Fact]
    public void OffsetsPastTheEndOfTheData()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]}}", 16),
            "'x'", "[0, 100]", "16 bytes");
        AssertRefused(files.WriteRaw("y.safetensors", "{\"x\":{" + F32x4 + ",\"data_offsets\":[9223372036854775807,9223372036854775823]}}", 16),
            "data_offsets[1]", "non-negative integer");
    }

    [Fact]
    public void OverlappingRanges()
    {
        using var files = new CheckpointTestFiles();
        string path = files.WriteRaw("x.safetensors",
            "{\"a\":{" + F32x4 + ",\"data_offsets\":[0,16]},\"b\":{" + F32x4 + ",\"data_offsets\":[8,24]}}", 24);
        AssertRefused(path, "'b'", "overlap", "'a'", "[8, 24)", "[0, 16)");
    }

    [Fact]
    public void GapInTheData()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("gap.safetensors",
            "{\"a\":{" + F32x4 + ",\"data_offsets\":[0,16]},\"b\":{" + F32x4 + ",\"data_offsets\":[20,36]}}", 36),
            "gap", "[16, 20)", "'b'");
        AssertRefused(files.WriteRaw("lead.safetensors", "{\"a\":{" + F32x4 + ",\"data_offsets\":[4,20]}}", 20),
            "gap", "[0, 4)");
        AssertRefused(files.WriteRaw("tail.safetensors", "{\"a\":{" + F32x4 + ",\"data_offsets\":[0,16]}}", 20),
            "4 trailing bytes");
    }

    [Theory]
    [InlineData("F32", "[3]", "[0,16]", "needs 12 bytes", "hold 16")]
    [InlineData("BF16", "[4]", "[0,16]", "needs 8 bytes", "hold 16")]
    [InlineData("F16", "[2,5]", "[0,16]", "needs 20 bytes", "hold 16")]
    [InlineData("F32", "[4]", "[5,1]", "end before they begin", "[5, 1]")]
    public void ShapeTimesDtypeSizeMustEqualTheRange(string dtype, string shape, string offsets, string problem, string detail)
    {
        using var files = new CheckpointTestFiles();
        string header = $"{{\"w\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}";
        AssertRefused(files.WriteRaw("x.safetensors", header, 16), "'w'", problem, detail);
    }

    [Fact]
    public void UnknownDtype()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors", "{\"w\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
            "'w'", "unknown dtype 'F33'", "BF16");
        AssertRefused(files.WriteRaw("y.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
            "unknown dtype 'f32'");
        AssertRefused(files.WriteRaw("z.safetensors", "{\"w\":{\"dtype\":32,\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
            "'dtype' must be a string");
    }

    [Theory]
    [InlineData("[-1,4]", "shape[0]", "-1")]
    [InlineData("[4,-16]", "shape[1]", "-16")]
    [InlineData("[2.5]", "shape[0]", "2.5")]
    [InlineData("[\"4\"]", "shape[0]", "\"4\"")]
    [InlineData("[1e30]", "shape[0]", "1e30")]
    [InlineData("4", "'shape' must be an array", "")]
    public void DimensionsMustBeNonNegativeIntegers(string shape, string field, string value)
    {
        using var files = new CheckpointTestFiles();
        string header = $"{{\"w\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[0,16]}}}}";
        AssertRefused(files.WriteRaw("x.safetensors", header, 16), "'w'", field, value);
    }

    [Fact]
    public void ShapeWhoseElementCountOverflows()
    {
        using var files = new CheckpointTestFiles();
        string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}";
        AssertRefused(files.WriteRaw("x.safetensors", header, 0), "'w'", "too many elements");
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}", "'__metadata__' appears more than once")]
    [InlineData("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "key 'a' appears more than once")]
    [InlineData("{\"__metadata__\":{\"a\":1}}", "key 'a' must have a string value")]
    [InlineData("{\"__metadata__\":[\"a\"]}", "'__metadata__' must be an object")]
    public void MetadataMustBeOneStringToStringMap(string header, string problem)
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors", header, 0), problem);
    }

    [Fact]
    public void DuplicateTensorNamesAndFields()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors",
            "{\"a\":{" + F32x4 + ",\"data_offsets\":[0,16]},\"a\":{" + F32x4 + ",\"data_offsets\":[16,32]}}", 32),
            "tensor 'a' appears more than once");
        AssertRefused(files.WriteRaw("y.safetensors",
            "{\"a\":{" + F32x4 + ",\"dtype\":\"I32\",\"data_offsets\":[0,16]}}", 16),
            "'a'", "field 'dtype' appears more than once");
    }

    [Theory]
    [InlineData("{\"a\":[1,2]}", "must be an object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", "'data_offsets' must be an array [begin, end]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8,16]}}", "'data_offsets' must be an array [begin, end]")]
    [InlineData("{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", "'dtype' must be a string")]
    public void TensorEntriesMustHaveDtypeShapeAndTwoOffsets(string header, string problem)
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("x.safetensors", header, 16), "'a'", problem);
    }

    [Fact]
    public void DeeplyNestedOrEscapedJunkIsStillAnR1Error()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.WriteRaw("deep.safetensors", "{\"a\":" + new string('[', 5000) + new string(']', 5000) + "}", 0), "not valid JSON");
        // A lone UTF-16 surrogate escape is valid JSON text but not a valid name; it must not escape as another exception.
        Assert.Throws<R1Error>(() => SafeTensorsFile.Load(files.WriteRaw("surrogate.safetensors",
            "{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)));
    }

    [Fact]
    public void KnownDtypeWithoutATorchTypeValidatesButDoesNotLoad()
    {
        using var files = new CheckpointTestFiles();
        string path = files.WriteRaw("fp8.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,8],\"data_offsets\":[0,16]}}", 16);
        Assert.Equal("F8_E4M3", SafeTensorsFile.ReadHeader(path).Tensors["w"].Dtype);
        var error = Assert.Throws<R1Error>(() => SafeTensorsFile.Load(path));
        Assert.Contains("'w'", error.Message);
        Assert.Contains("F8_E4M3", error.Message);

        AssertRefused(files.WriteRaw("f4.safetensors", "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1),
            "not a whole number of bytes");
    }

    [Fact]
    public void MissingFileIsAnR1Error()
    {
        using var files = new CheckpointTestFiles();
        AssertRefused(files.PathOf("absent.safetensors"), "cannot open");
        AssertRefused(files.Dir, "cannot open");
    }

    /// <summary>
    /// Random corruption of a valid file (flipped bytes, truncation, inserted and dropped bytes) must give either a
    /// valid load or an R1Error, never another exception. The corruptions are weighted towards the header.
    /// </summary>
    [Fact]
    public void RandomCorruptionYieldsOnlyR1ErrorOrAValidLoad()
    {
        using var files = new CheckpointTestFiles();
        string original = files.PathOf("valid.safetensors");
        using (var scope = NewDisposeScope())
        {
            SafeTensorsFile.Save(original, new Dictionary<string, Tensor>
            {
                ["model.embed_tokens.weight"] = randn([6, 4], generator: new TorchSharp.torch.Generator(1)).to(ScalarType.BFloat16),
                ["model.norm.weight"] = ones(4, ScalarType.Float16),
                ["lm_head.weight"] = randn([6, 4], generator: new TorchSharp.torch.Generator(2)),
                ["steps"] = tensor(new long[] { 3, 1 }),
                ["mask"] = tensor(new[] { true, false, true }),
                ["empty"] = zeros([0, 3]),
                ["scalar"] = tensor(2.0),
            }, new Dictionary<string, string> { ["format"] = "pt" });
        }
        byte[] valid = File.ReadAllBytes(original);
        int headerEnd = 8 + BitConverter.ToInt32(valid, 0);
        var random = new Random(1234);
        string path = files.PathOf("mutated.safetensors");
        int loads = 0, refusals = 0;

        for (int trial = 0; trial < 500; trial++)
        {
            var bytes = new List<byte>(valid);
            int mutations = 1 + random.Next(3);
            for (int m = 0; m < mutations && bytes.Count > 0; m++)
            {
                // Three in four land in the length prefix or header, where parsing can go wrong.
                int at = random.Next(4) == 0 ? random.Next(bytes.Count) : random.Next(Math.Min(headerEnd, bytes.Count));
                switch (random.Next(5))
                {
                    case 0: bytes[at] = (byte)random.Next(256); break;
                    case 1: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                    case 2: bytes.RemoveAt(at); break;
                    case 3: bytes.Insert(at, (byte)"{}[],:\"0123456789-eE. \\u"[random.Next(24)]); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }
            File.WriteAllBytes(path, bytes.ToArray());
            try
            {
                var loaded = SafeTensorsFile.Load(path);
                CheckpointTestFiles.DisposeAll(loaded.Values);
                loads++;
            }
            catch (R1Error e)
            {
                Assert.Contains(path, e.Message);
                refusals++;
            }
            catch (Exception e)
            {
                Assert.Fail($"trial {trial}: {e.GetType().Name} instead of R1Error: {e.Message}");
            }
        }
        // Both outcomes occur, so the mutations neither all miss nor all break the file.
        Assert.True(loads > 10, $"{loads} valid loads");
        Assert.True(refusals > 100, $"{refusals} refusals");
    }
}
