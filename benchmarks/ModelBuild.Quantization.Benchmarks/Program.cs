using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ModelBuild.Quantization.Benchmarks;

// dotnet run -c Release -- --filter '*'            BenchmarkDotNet suites (in-process, short runs: 3 warmups, 3 iterations)
// dotnet run -c Release -- --peak-memory 10000     one calibration run, prints the process's peak working set
if (args.Length == 2 && args[0] == "--peak-memory") return PeakMemory.Run(int.Parse(args[1]));
// In-process: the generated-project build takes minutes on a loaded 2-core machine and buys nothing here.
var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
BenchmarkSwitcher.FromAssembly(typeof(InferenceLatencyBenchmarks).Assembly).Run(args, config);
return 0;
