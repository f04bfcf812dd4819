using System.CommandLine;
using R1Sharp.Runs;
using R1Sharp.Training;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// The rates every run's cost card is computed at, on every command that runs one (training commands, quickstart,
/// experiment, sample): built-in defaults &lt; <c>--cost-config FILE</c> &lt; <c>--watts</c>, <c>--price-per-hour</c>,
/// <c>--h100-*</c>.
/// </summary>
sealed record CostFlags(Option<string?> Config, Option<double?> Watts, Option<double?> PricePerHour,
    Option<double?> H100Tflops, Option<double?> H100Mfu, Option<double?> H100PricePerHour)
{
    public static CostFlags AddTo(Command command)
    {
        var defaults = new CostRates();
        var flags = new CostFlags(
            OptionFactory.Optional<string>("--cost-config", "JSON file of cost rates (keys as in report.json's cost.rates); flags override it"),
            OptionFactory.Optional<double?>("--watts", $"Power of a busy CPU core (or of a GPU) for the cost card's energy (default {CostRates.DefaultWattsPerCore} per core, {CostRates.DefaultWattsPerGpu} per GPU)"),
            OptionFactory.Optional<double?>("--price-per-hour", $"Dollars per hour of this machine for the cost card (default ${CostRates.DefaultPricePerCoreHour} × {Environment.ProcessorCount} cores)"),
            OptionFactory.Optional<double?>("--h100-tflops", $"H100 dense bf16 peak for the card's H100 comparison (default {defaults.H100Tflops})"),
            OptionFactory.Optional<double?>("--h100-mfu", $"Model FLOPs utilisation assumed on the H100 (default {defaults.H100Mfu})"),
            OptionFactory.Optional<double?>("--h100-price-per-hour", $"Dollars per H100-hour (default {defaults.H100PricePerHour})"));
        foreach (var option in new Option[] { flags.Config, flags.Watts, flags.PricePerHour, flags.H100Tflops, flags.H100Mfu, flags.H100PricePerHour })
            command.Options.Add(option);
        return flags;
    }

    public CostRates Resolve(ParseResult parse) => new ConfigLayers<CostRates>(new CostRates(), parse.GetValue(Config), r => r with
    {
        Watts = parse.GetValue(Watts) ?? r.Watts,
        PricePerHour = parse.GetValue(PricePerHour) ?? r.PricePerHour,
        H100Tflops = parse.GetValue(H100Tflops) ?? r.H100Tflops,
        H100Mfu = parse.GetValue(H100Mfu) ?? r.H100Mfu,
        H100PricePerHour = parse.GetValue(H100PricePerHour) ?? r.H100PricePerHour,
    }).Resolve().Validate();
}
