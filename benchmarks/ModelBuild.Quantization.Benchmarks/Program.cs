using BenchmarkDotNet.Running;
using ModelBuild.Quantization.Benchmarks;

// dotnet run -c Release -- --filter '*'            BenchmarkDotNet suites
// dotnet run -c Release -- --peak-memory 10000     one calibration run, prints the process's peak working set
if (args.Length == 2 && args[0] == "--peak-memory") return PeakMemory.Run(int.Parse(args[1]));
BenchmarkSwitcher.FromAssembly(typeof(InferenceLatencyBenchmarks).Assembly).Run(args);
return 0;
