using DigitsWeb;
using ModelBuild.Runtime;

// An ASP.NET Core minimal API serving the model `dotnet build` compressed (bin/.../models/digits.onnx) through
// ModelBuild.Runtime's PredictionEnginePool. The file is watched: deploying a new model (write a temp file, rename
// it over models/digits.onnx) swaps in a new generation while requests keep being answered.
var builder = WebApplication.CreateBuilder(args);

// Next to the app, not relative to the working directory: `dotnet run` and `dotnet bin/.../DigitsWeb.dll` both find it.
var modelPath = Path.Combine(AppContext.BaseDirectory, "models", "digits.onnx");
builder.Services.AddPredictionEnginePool<DigitInput, DigitScores>()
    .FromFile(modelName: DigitModel.Name, filePath: modelPath, watchForChanges: true)
    .AddHealthCheck();
builder.Services.AddSingleton<RuntimeMetricsSnapshot>();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));

var app = builder.Build();

// Resolving the pool loads the model now, so a missing or mismatched model fails at startup (MB07xx), not on the
// first request; the snapshot starts listening to the runtime's meter before the first prediction.
var pool = app.Services.GetRequiredService<PredictionEnginePool<DigitInput, DigitScores>>();
app.Services.GetRequiredService<RuntimeMetricsSnapshot>();
pool.ModelReloaded += (_, e) => app.Logger.LogInformation("digits: generation {Generation} now serving ({Sha256})",
    pool.GetModelInfo(e.ModelName).Generation, pool.GetModelInfo(e.ModelName).Sha256[..12]);

app.MapPost("/predict", (DigitRequest request, PredictionEnginePool<DigitInput, DigitScores> pool) =>
{
    if (request.Pixels is not { Length: DigitInput.PixelCount })
    {
        return Results.Problem($"'pixels' must hold {DigitInput.PixelCount} values (28x28, row by row, 0..255); got {request.Pixels?.Length ?? 0}.",
            statusCode: StatusCodes.Status400BadRequest);
    }
    var scores = pool.Predict(DigitModel.Name, new DigitInput { Pixels = request.Pixels });
    return Results.Ok(DigitPrediction.From(scores.Scores));
});

app.MapGet("/model", (PredictionEnginePool<DigitInput, DigitScores> pool) =>
{
    var info = pool.GetModelInfo(DigitModel.Name);
    return Results.Ok(new
    {
        info.Name,
        info.Source,
        info.Generation,
        info.Sha256,
        info.SizeBytes,
        info.LoadedAt,
        Status = pool.GetModelStatuses().Single(s => s.Name == DigitModel.Name),
        info.Inputs,
        info.Outputs,
    });
});

// The runtime's IHealthCheck: Healthy while the latest model file serves, Degraded when a reload failed and the
// previous generation still serves.
app.MapHealthChecks("/healthz");

// The "ModelBuild.Runtime" meter's counters, read by an in-process MeterListener. In production, hand the same
// meter to OpenTelemetry (AddMeter("ModelBuild.Runtime")) or watch it live: dotnet-counters monitor -n DigitsWeb --counters ModelBuild.Runtime
app.MapGet("/metrics", (RuntimeMetricsSnapshot metrics) => Results.Ok(metrics.Read()));

app.Run();
