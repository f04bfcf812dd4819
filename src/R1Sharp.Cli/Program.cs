// Commands that only generate run libtorch's OpenMP ops beside R1Sharp's own threads: idle OpenMP threads should sleep.
if (args is ["generate" or "serve" or "eval" or "sample" or "perplexity", ..]) R1Sharp.Native.TorchNativeLoader.PreferPassiveOpenMpThreads();
return R1Sharp.Cli.CliApp.Run(args);
