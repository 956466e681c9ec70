using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/ModelBuild.Runtime.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(ModelBuild.Runtime.Benchmarks.PredictBenchmarks).Assembly).Run(args);
