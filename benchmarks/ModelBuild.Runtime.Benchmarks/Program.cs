using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/ModelBuild.Runtime.Benchmarks -- --filter '*' --job short
// dotnet run -c Release --project benchmarks/ModelBuild.Runtime.Benchmarks -- --session-settings mlp model.onnx   (see SessionSettingsComparison)
if (args.Length > 0 && args[0] is "--session-settings" or "--write-mlp") return ModelBuild.Runtime.Benchmarks.SessionSettingsComparison.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(ModelBuild.Runtime.Benchmarks.PredictBenchmarks).Assembly).Run(args);
return 0;
